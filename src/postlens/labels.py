"""The five content types of the postlens codebook, in one place.

Every other module refers to labels through :data:`LABELS` (ids in codebook order)
and :data:`TAXONOMY` (names and definitions), so there is exactly one spelling of each.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Label", "TAXONOMY", "LABELS"]


@dataclass(frozen=True)
class Label:
    """One content type: its id, English and Chinese names and the codebook's one-line definition."""

    id: str
    name: str
    name_zh: str
    definition: str


TAXONOMY: tuple[Label, ...] = (
    Label("brand_news", "brand news", "企业新闻",
          "tells the reader about the organisation itself: milestones, honours, leaders, deals, results, hiring"),
    Label("hard_ad", "hard ad", "硬广",
          "tries to sell: get the reader to buy, book, download or sign up for a paid thing"),
    Label("service", "service", "服务",
          "helps a user get something done with the product or service: support replies, how-tos, notices"),
    Label("user_interest", "user-interest content", "兴趣内容",
          "gives the reader something worth reading for its own sake: knowledge, tips, stories, fun"),
    Label("community", "community", "社群互动",
          "invites the reader to take part, or connects users with each other and with the brand"),
)

#: Label ids in codebook order; model probability columns follow this order.
LABELS: tuple[str, ...] = tuple(label.id for label in TAXONOMY)
