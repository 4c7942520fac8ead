"""Cues from the codebook: the phrases and shapes that annotators look for.

Each :class:`Cue` is a named list of phrases (Chinese, English and Korean) with a plain-words
description used as evidence. Cues are features the model weighs, never rules: "抽奖" points
towards community, but a draw you enter by buying is still a hard ad, and the model learns
that from the other features.

Phrases are matched on the feature text of :mod:`postlens.ngrams` (lower case, each run of
digits written as ``0``, links blanked), all cues and all posts of a batch in one pass:

- ``chars``: ``|``-separated strings found anywhere in the post, as a substring
  (for Chinese and Korean, and symbols: ``"0折|满0减|优惠|¥0"``);
- ``words``: ``|``-separated sequences of whole words (for English: ``"sale|shop now"``);
  a trailing ``*`` also takes longer words (``"apologi*"`` finds "apologise" and "apologies");
- a leading ``^`` in either list finds the phrase only at the start of the post;
- ``count``: a function for the few cues about a post's form (its length, a sign-off).

Cues read the output of :func:`postlens.text.normalize` (placeholders ``<url>``, ``@user``,
``<email>``, ``<phone>``; full-width forms already folded).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import ngrams
from .ngrams import Encoded

__all__ = ["Cue", "CUES", "CueMatches", "match_cues", "strip_cue_phrases"]


@dataclass(frozen=True)
class Cue:
    """A codebook cue: ``id``, what it means in words, and what finds it (see the module docstring)."""

    id: str
    description: str
    chars: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    count: "Callable[[Posts], np.ndarray] | None" = None
    shape: bool = False  #: about the form of the post (a reply, its length, its tags), not its wording


def _cue(id: str, description: str, chars: str = "", words: str = "",
         count: "Callable[[Posts], np.ndarray] | None" = None, shape: bool = False) -> Cue:
    split = lambda s: tuple(p for p in s.split("|") if p)  # noqa: E731
    return Cue(id, description, split(chars), split(words), count, shape)


_SIGNOFF = re.compile(r"(?:\s[\^*/\-–—~]\s?[A-Z][A-Za-z]{0,10}|\s\^[A-Z]{1,3})(?:\s+\d/\d)?\s*(?:<url>)?\s*(?=\x00|\Z)")
_CASHTAG = re.compile(r"\$[A-Z]{1,5}\b")
_TITLE_TAG = re.compile(r"【[^】\n]{1,15}】|\[[^\]<>\n]{1,12}\]")
_FESTIVAL_DATE = re.compile(r"618(?!\d)|11\.11(?!\d)")


class Posts:
    """The normalised posts of a batch, as the ``count`` cues read them: the texts, their
    lengths, and all of them joined with NULs (which no pattern here matches) for one pass of a
    regular expression over the batch."""

    def __init__(self, docs: Sequence[str]):
        self.docs = docs
        self.lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        self.joined = "\x00".join(docs)
        self._ends = np.cumsum(self.lengths + 1)

    def per_post(self, pattern: re.Pattern[str]) -> np.ndarray:
        """How often ``pattern`` (which never matches across a NUL) occurs in each post."""
        starts = [m.start() for m in pattern.finditer(self.joined)]
        rows = np.searchsorted(self._ends, starts, side="right")
        return np.bincount(rows, minlength=len(self.docs)).astype(np.float32)


def _signoff(posts: Posts) -> np.ndarray:
    """1 for a post that ends with a support agent's initials ("^JM", "-Priya") in its last 40 characters."""
    return np.minimum(Posts([d[-40:] for d in posts.docs]).per_post(_SIGNOFF), 1)


def _short(posts: Posts) -> np.ndarray:
    return (posts.lengths <= 24).astype(np.float32)


def _long(posts: Posts) -> np.ndarray:
    return (posts.lengths >= 280).astype(np.float32)


def _cashtags(posts: Posts) -> np.ndarray:
    """Stock tickers such as "$KVRA" (case matters, so this reads the post itself)."""
    return posts.per_post(_CASHTAG)


def _festival_dates(posts: Posts) -> np.ndarray:
    """"618" and "11.11", which the feature text writes as bare numbers."""
    return posts.per_post(_FESTIVAL_DATE)


def _title_tag(posts: Posts) -> np.ndarray:
    """Bracketed tags "【新品】", "[公告]" and a column name before a bar ("干货｜…")."""
    bar = np.array(["|" in d[1:9] for d in posts.docs], dtype=np.float32)
    return posts.per_post(_TITLE_TAG) + bar


CUES: tuple[Cue, ...] = (
    _cue("price", "mentions a price",
         chars='¥0|¥ 0|$0|$ 0|€0|€ 0|£0|£ 0|₩0|₩ 0|0元|0 元|0块|0 块|0rmb|0 rmb|0usd|0 usd|0원|0 원|0円|0 円|'
               '到手价|券后|原价|特价|价格|低至|仅需|只要0|가격|정가',
         words='price|prices|priced|only $*|from $*|per month|/mo'),
    _cue("discount", "offers a discount, coupon or sale",
         chars='0折|0 折|0.0折|0.0 折|满0减|立减|优惠|打折|折扣|降价|让利|秒杀|限时|特惠|福利价|清仓|包邮|赠品|买一送一|第二件|领券|优惠券|'
               '红包雨|0% off|0 % off|free shipping|clearance|할인|쿠폰|특가|세일|무료배송',
         words='off everything|off sitewide|off all|discount*|sale|coupon*|promo|promo code|'
               'deal|deals|bogo|save 0*|save up to|flash|use code|with code'),
    _cue("buy_call", "tells the reader to buy or order",
         chars='立即购买|立即下单|立即抢购|立即预订|立即订购|马上抢|抢购|开抢|去抢|下单|购买|点击链接|点击下方链接|阅读原文|扫码|加购|囤货|入手|拍下|预售|'
               '预订|预约购|到店|官方旗舰店|天猫|京东|淘宝|购票|门票|抢票|link in bio|link in profile|구매|주문|구입|장바구니|'
               '바로가기',
         words='buy|shop|order now|order yours|order today|order online|get yours|grab yours|'
               'grab one|grab it|preorder*|pre-order*|available now|available today|'
               'available in-store|available online|available at|in stores|tap to|checkout|cart|'
               'ticket|tickets|book now|book yours|book today|book your|reserve|stream now|'
               'stream it now'),
    _cue("paid_signup", "pushes a paid sign-up, subscription or app download",
         chars='开通会员|开通vip|会员卡|会员年卡|会员专享|订阅|下载app|下载客户端|注册即送|免费试用|课程报名|구독|다운로드|가입하',
         words='subscribe|subscription|download the|download our|download now|free trial|'
               'upgrade to|membership|sign up now|sign up today|plan start|plan from|'
               'plans start|plans from'),
    _cue("product_launch", "launches or praises a product",
         chars='新品|上市|首发|全新|上新|爆款|新口味|限量|联名|同款|热卖|人气|必买|好物|种草|신제품|출시|한정판',
         words='new arrival|new arrivals|new collection|new collections|new flavor|new flavors|'
               'new flavour|new flavours|new release|new releases|just dropped|just landed|'
               'just arrived|limited edition|now available|bestseller*|best-seller*|colorway|'
               'colorways|colourway|colourways|introducing'),
    _cue("product_copy", "describes a product's design and materials",
         chars='面料|版型|设计|百搭|显瘦|修身|质感|尽显|气质|亲肤|透气|舒适|采用|精致|时尚|优雅|材质|做工|保湿|滋润|口感|香气|容量|续航|소재|디자인|'
               '착용감',
         words='crafted|premium|fabric|comfort*|soft|lightweight|designed for|designed to|'
               'designed with|feature|features|finish|formula'),
    _cue("shopping_festival", "ties in with a shopping festival",
         chars='双0|双十一|双十二|年货节|周年庆|会员日|大促|狂欢节|black friday|cyber monday|prime day|'
               "boxing day|singles day|singles' day",
         count=_festival_dates),
    _cue("reply_to_customer", "replies to one person (starts with a @handle)",
         words='^@user', shape=True),
    _cue("greeting_customer", "addresses a customer directly",
         chars='^您好|^你好|^亲爱的|^亲,|^亲!|^亲~|^亲 |^안녕하세요|^고객님',
         words='^hi|^hey|^hello|^dear'),
    _cue("apology", "apologises",
         chars='抱歉|不便|对不起|歉意|见谅|不好意思|죄송|불편을',
         words='sorry|apologise*|apologize*|apologies|unfortunately|frustrat*|inconvenience'),
    _cue("contact_us", "asks the customer to contact or message the brand",
         chars='私信|私聊|联系我们|联系客服|联系人工|客服|致电|热线|拨打|在线咨询|留下联系方式|留下您的联系方式|<phone>|<email>|문의|고객센터|'
               '상담',
         words='dm|direct message*|send us|reach out|contact us|contact our|call us|'
               'give us a call|helpdesk|help desk|support team|get in touch'),
    _cue("asks_details", "asks for an order, booking or account detail",
         chars='订单号|手机号|账号|单号|运单|身份证|卡号|预订号|票号|截图|型号|版本号|具体情况|具体问题|주문번호|예약번호|연락처',
         words='order number|order no|order #|order id|booking ref*|booking reference*|'
               'booking number*|booking code*|confirmation number|confirmation code|'
               'account number|account details|account email|tracking number|tracking no|'
               'zipcode|zip code|postcode|screenshot|serial number|which device|which version|'
               'which model|which browser|which store|which flight|may we have|'
               'could you confirm|could you tell|could you share|could you send|could you check'),
    _cue("clarifying_question", "asks the customer a clarifying question",
         chars='请问您|请问你|您是否|您是在|您是用|您是使用|是否有|是否已|是否可以|您那边|您这边|麻烦您|혹시|하셨나요|계신가요',
         words='are you using|are you on|are you still|are you seeing|are you able|did you|'
               'have you tried|have you checked|have you updated|have you received|'
               'is this happening|is it happening|what device|what version|what error'),
    _cue("troubleshooting", "gives troubleshooting steps",
         chars='重启|重新登录|重新安装|重新连接|重新下载|重新打开|清除|缓存|卸载|设置—|设置-|设置–|设置>|升级到|更新到|退出后|退出登录后|检查网络|'
               '检查一下网络|刷新|复位|恢复出厂|재시작|재설치|업데이트',
         words='restart*|reinstall*|reboot*|re-boot*|clear cache|clear the cache|clear your cache|settings >|'
               'setting >|log out|log back in|sign out|update to*|update the app*|update your app*|reset|'
               'force quit*|force close*|uninstall*|try again|power cycle'),
    _cue("service_notice", "announces a service notice (hours, outage, delay, maintenance, policy)",
         chars='通知|公告|提醒|调整|暂停|恢复|停运|停机|延误|取消|维护|营业时间|放假|停业|闭馆|开放时间|升级期间|故障|临时|告知|规则|须知|说明|공지|'
               '안내|점검|운영시간|휴무|지연',
         words='notice|maintenance|outage|delay|delayed|delays|canceled|cancelled|disruption*|'
               'service update*|service alert*|service change*|opening hours|holiday hours|'
               'closed|reopen*|downtime|scheduled|policy|terms|resolved|back up and running|'
               'heads up|please note'),
    _cue("how_to", "explains how to do something with the service",
         chars='如何|怎么|怎样|教您|教你|指南|步骤|操作|办理|流程|入口|路径|使用方法|小技巧|一键|在哪|방법|하는 법|단계',
         words="how to|heres how|here's how|steps|step 0|guide|faq|tutorial|follow these steps|"
               'follow the steps|go to|tap|select|click|enable'),
    _cue("safety", "warns about safety, fraud or a recall",
         chars='召回|诈骗|防骗|骗子|安全提示|安全须知|安全隐患|谨防|警惕|冒充|钓鱼|사기|리콜|주의',
         words='recall*|scam*|fraud*|phishing*|safety|warning|suspicious|impersonat*'),
    _cue("account_function", "offers an account or query function",
         chars='回复0|回复 0|查询|账单|余额|积分|额度|绑定|解绑|挂失|缴费|还款|退款|退货|换货|补发|物流|快递|发货|到账|改签|退票|值机|行李|환불|'
               '배송|조회|결제',
         words='balance|statement|bill|billing|refund*|return|returns|returned|exchange|'
               'delivery|shipping status|track|tracking|checkin|check-in|baggage|rebook*|'
               'password|login|charged|payment'),
    _cue("support_signoff", "is signed off by a support agent", count=_signoff, shape=True),
    _cue("question_to_followers", "asks followers a question",
         chars='你们|大家|小伙伴|宝宝们|粉丝们|你最|你会|你觉得|你家|哪个|哪一|哪款|哪种|有没有人|猜猜|来说说|说说你|聊聊|告诉我们|留言告诉|留言说说|'
               '留言分享|여러분|어떤|골라|댓글로',
         words="which one|which flavor|which flavour|which would|which do you|what's your|"
               "what is your|what are your|who's your|who's ready|who is your|who is ready|"
               'would you rather|tell us|let us know in|let us know below|let us know what|'
               'let us know which|let us know your|comment below|drop a|drop an|drop your|'
               'what do you think|guess|favorite|favourite'),
    _cue("contest", "runs a draw, contest or giveaway to enter by taking part",
         chars='抽奖|抽取|抽0|转发|评论区|留言区|晒|有奖|赢取|赢得|征集|投稿|大赛|挑战赛|送出|免费领|宠粉|福利|锦鲤|中奖|获奖名单|打卡|이벤트|추첨|'
               '경품|당첨|댓글',
         words='giveaway*|win|winner|winners|chance to|enter|contest|sweepstakes|retweet|rt to|'
               'rt for|tag a|tag your|tag someone|tag two|tag 3|share your|show us|snap a|'
               'challenge|comment to|comment with|comment below'),
    _cue("thanks_fans", "thanks or features fans",
         chars='感谢|谢谢|多谢|粉丝|宠粉|小可爱|陪伴|一路有你|晒单|返图|买家秀|감사|팬|고마',
         words='thank for|thank so much|thank a lot|thank to all|thank everyone|thanks for|'
               'thanks so much|thanks a lot|thanks to all|thanks everyone|thank you|shoutout|'
               'shout-out|shout out|shout -out|love this|love it|love that|love seeing|'
               'great photo|great pic|great shot|fan|fans|followers|community|featured|regram|'
               'rt @user*'),
    _cue("join_community", "invites users to join a group, club or event",
         chars='社群|进群|加群|入群|群聊|粉丝群|会员俱乐部|俱乐部|见面会|线下活动|沙龙|报名|参与|一起来|共创|志愿者|问卷|调研|投票|内测|体验官|모임|참여|'
               '커뮤니티|설문|투표|신청',
         words='join us|join our|join the|meetup|meetups|meet-up|meet-ups|register|registration|'
               'sign up for the event*|sign up for the meetup*|sign up for the workshop*|'
               'sign up for the session*|sign up for our event*|sign up for our meetup*|'
               'sign up for our workshop*|sign up for our session*|club|members|workshop|'
               'workshops|volunteer*|poll|vote|survey|feedback|rsvp|see you there|see you at|'
               'session|sessions|beta|ambassador*'),
    _cue("greeting", "sends a greeting",
         chars='快乐|早安|晚安|早上好|周末愉快|节日|祝您|祝你|祝大家|新年|除夕|中秋|春节|圣诞|元旦|새해|추석|메리|좋은 하루',
         words="happy holidays|happy new year|happy thanksgiving|happy diwali|happy easter|happy friday|"
               "happy monday|happy weekend|happy mother's day|happy father's day|happy women's day|"
               "happy valentine's day|happy earth day|happy lunar new year|merry christmas|good morning|"
               "seasons greetings|season's greetings|have a great|have a good|have a lovely|"
               "have a wonderful|cheers"),
    _cue("invitation", "invites the reader to an event",
         chars='邀请函|邀你|邀您|诚邀|邀请您|邀请你|约你|约您|等你来|不见不散|开放报名|报名开启|火热报名|초대|초청',
         words="invite|invited|invitation|youre invited|you're invited|join us at|join us for|"
               "join us on|save the date|dont miss|don't miss|registration open*|"
               'registration is open*'),
    _cue("quiz_game", "offers a quiz, test or game to play",
         chars='测试|测一测|答题|挑战|小游戏|闯关|合成|拼图|猜谜|猜一猜|h5|互动时间|真粉|玩法|퀴즈|게임',
         words='quiz|trivia|puzzle|play now|play along|play our|minigame|mini-game|spot the|'
               'fill in the blank|caption'),
    _cue("rally_fans", "rallies fans and followers",
         chars='加油|冲鸭|一起|我们来了|集合|等你|欢迎|见证|支持|陪伴|同框|应援|打call|#matchday|응원|함께|환영',
         words="lets go|let's go|come on|support|welcome|caption this|whos ready|who's ready|"
               'together|cheer*|family|nation|see you|your house'),
    _cue("honour", "reports an award or honour the organisation won",
         chars='荣获|获评|获颁|入选|荣登|殊荣|称号|奖项|喜报|表彰|授予|수상|선정',
         words='award|awards|awarded|recognised|recognized|named a|named one|named the|named to|'
               'named among|ranked|honored|honoured|winner of|certified|accolade*|top employer|'
               'best place to work'),
    _cue("leadership", "reports on the organisation's leaders",
         chars='董事长|总裁|总经理|首席|创始人|高管|行长|书记|领导|出席|致辞|发表演讲|演讲|峰会|会见|调研指导|座谈|任命|履新|대표|회장|사장|취임',
         words='ceo|cfo|cto|chairman|president|founder|executive|keynote|summit|panel|forum|'
               'appoint*|leadership|board|spoke|interview'),
    _cue("deal", "announces a partnership, agreement or acquisition",
         chars='签约|签署|战略合作|合作协议|携手|达成|联手|牵手|收购|并购|投资|入股|合作伙伴|框架协议|备忘录|협약|제휴|인수|파트너십',
         words='partnership|partnered|partners with|partner with|agreement|signed|acquire|'
               'acquired|acquisition|merger|mou|teams up|collaborat*|alliance|joint venture|'
               'invests|invested|investment'),
    _cue("financials", "reports results, funding or investor news",
         chars='财报|营收|营业收入|净利润|利润|业绩|季度|年报|股东|股价|融资|上市|ipo|分红|市值|同比|增长0|실적|매출|영업이익|투자',
         words='revenue|earnings|quarter|quarterly|q1|q2|q3|q4|fiscal|fy0*|shareholder|'
               'shareholders|dividend*|investor|investors|conference call|forward-looking|'
               'funding|series a|series b|series c|series d|results|guidance|non-gaap|'
               'annual report',
         count=_cashtags),
    _cue("milestone", "marks a company milestone (anniversary, opening, launch of a site)",
         chars='周年|成立|揭牌|投产|开业|落成|奠基|里程碑|启用|开工|竣工|乔迁|正式启动|总部|工厂|基地|旗舰店|开幕|亮相|发布会|주년|설립|개소|준공',
         words='anniversary|milestone|headquarters|facility|plant|grand opening|open its|'
               'open our|open a new|opens its|opens our|opens a new|break ground|breaks ground|'
               'founded|year ago|year of|years ago|years of|expansion|unveil*'),
    _cue("csr", "reports charity, sustainability or social responsibility",
         chars='公益|捐赠|捐款|捐建|慈善|可持续|社会责任|esg|碳中和|减排|环保|助学|扶贫|乡村振兴|基金会|기부|사회공헌|지속가능|봉사',
         words='donat*|charity|sustainab*|csr|esg|foundation|nonprofit|non-profit|carbon|'
               'emissions|climate|good cause|social impact|diversity|inclusion'),
    _cue("hiring", "recruits staff",
         chars='招聘|校招|社招|岗位|职位|实习生|管培生|人才|简历|应聘|채용|모집|인재',
         words="were hiring|we're hiring|hiring|career|careers|job opening*|job opportunit*|"
               'join our team|vacanc*|apply now|internship*|graduate programme|recruit*'),
    _cue("press_headline", "reads like a press headline about the organisation",
         chars='集团发布|集团推出|集团宣布|集团启动|集团亮相|集团入选|集团获|公司发布|公司推出|公司宣布|公司启动|公司亮相|公司入选|公司获|银行发布|银行推出|'
               '银行宣布|银行启动|银行亮相|银行入选|银行获|股份发布|股份推出|股份宣布|股份启动|股份亮相|股份入选|股份获',
         words='launches|expands|unveils|opens|announces|acquires|creates|names|appoints|reports|celebrates|'
               'joins|signs|invests|completes|partners|commits|pledges|receives|wins|debuts|introduces|'
               'rolls out|teams up|selects|becomes|marks|reaches|hits|tops'),
    _cue("chat_answer", "answers in a live Q&A chat", chars='^a0:|^q0:|^a0 |^q0 '),
    _cue("corporate_voice", "speaks as the company (announces, we are proud)",
         chars='集团|公司|我司|本公司|宣布|重磅|隆重|热烈祝贺|祝贺|喜迎|기업|회사|그룹|발표',
         words='announc*|proud to|proudly to|we are pleased to|we are delighted to|'
               'we are excited to|company|group|corporate|global|press release|statement|'
               'congratulat*|our team|our people|our employees|our colleagues'),
    _cue("knowledge", "shares knowledge, tips or advice",
         chars='技巧|窍门|妙招|知识|科普|你知道吗|原来|为什么|攻略|干货|收藏|方法|秘诀|建议|误区|注意事项|小贴士|真相|揭秘|冷知识|盘点|必看|'
               '#didyouknow|꿀팁|방법|알아보|상식',
         words='tip|tips|ways to|did you know|why|hack|hacks|fact|facts|lesson|lessons|secret|'
               'secrets|mistake|mistakes|things to|explained|learn|insight|insights|research|'
               'study|trend|trends'),
    _cue("listicle", "is a numbered list or roundup",
         chars='0个|0种|0款|0招|0条|0件|0大|0步|0分钟|0 个|0 种|0 款|0 招|0 条|0 件|0 大|0 步|0 分钟|0가지|0 가지',
         words='0 ways|0 tips|0 things|0 reasons|0 ideas|0 steps|0 books|0 places|0 habits|'
               '0 signs|top 0'),
    _cue("insight", "offers industry insight, analysis or research",
         chars='洞察|解读|分析|趋势|报告|案例|复盘|观察|一图读懂|看懂|读懂|白皮书|研究|数据显示|行业|策略|观点|前瞻|분석|트렌드|연구|인사이트',
         words='insight|insights|analysis|report|trend|trends|research|study|explained|'
               'deep dive|case study|industry|future of|data show|data shows|survey finds|'
               'expert|experts'),
    _cue("entertainment", "is about shows, music, games, sport or films",
         chars='剧|综艺|电影|影视|歌单|音乐|游戏|动漫|看点|追剧|演唱会|比赛|球迷|赛季|冠军|主题曲|预告片|彩蛋|드라마|영화|음악|게임|경기',
         words='highlight|highlights|episode|season 0*|trailer|playlist|watch|video|clip|'
               'gameday|game day|match|goal|film|movie|song|album|show|series'),
    _cue("food_recipe", "shares food or a recipe",
         chars='做法|食谱|菜谱|美食|好吃|味道|烘焙|早餐|午餐|晚餐|下午茶|饮品|零食|吃法|레시피|요리|맛집',
         words='recipe|recipes|dessert|ingredient|ingredients|cook|cooking|bake|baking|'
               'breakfast|lunch|dinner|snack|flavor|flavors|flavour|flavours|tasty|delicious'),
    _cue("health_science", "shares health or science knowledge",
         chars='健康|医生|科学|营养|睡眠|养生|疾病|症状|预防|免疫|运动|减脂|心理|护眼|宝宝|育儿|건강|수면|영양|운동',
         words='health|healthy|doctor|doctors|science|nutrition*|sleep|symptom|symptoms|'
               'prevent*|immune|exercise|wellbeing|wellness|mental health|brain|cancer|heart'),
    _cue("travel_place", "is about travel and places",
         chars='旅行|旅游|景点|古城|古镇|风景|航拍|山|湖|海边|徒步|露营|城市漫步|自驾|打卡地|秘境|人间仙境|江南|여행|명소|풍경',
         words='travel*|destination|destinations|spot|spots|beach|beaches|city|trip|holiday|'
               'vacation|hike*|mountain|mountains|island|explore|view|roadtrip|road trip'),
    _cue("people_story", "tells a story about people",
         chars='故事|人物|他们|她们|记录|少年|青春|图鉴|一位|那些|背后|回忆|时光|岁月|平凡|이야기|사람들',
         words="story|stories|journey|meet the|meet our|inspiring|her|his|behind the scenes|"
               "behind-the-scenes|who made|who turned|who built|life"),
    _cue("throwback", "looks back at history or tradition",
         chars='历史|传统|习俗|节气|立春|清明|端午|冬至|中秋|文化|非遗|古代|年前|老照片|那年|怀旧|#tbt|역사|전통|문화',
         words='history|tradition*|throwback|flashback|look back|looking back|on this day|'
               '0 years ago|0 years later|heritage|culture|vintage|classic'),
    _cue("humour", "jokes or plays with pop culture",
         chars='哈哈|笑|段子|表情包|梗|沙雕|神回复|😂|🤣|😆|😅|ㅋㅋ|ㅎㅎ|웃',
         words='lol|lmao|meme*|funny|joke*|mood|plot twist|weirdly|when you|me :|nobody :'),
    _cue("short_post", "is very short (a title or one-liner)", count=_short, shape=True),
    _cue("long_post", "is long (an article digest or long post)", count=_long, shape=True),
    _cue("title_brackets", "has a bracketed headline tag like 【...】", count=_title_tag, shape=True),
    _cue("first_person_plural", "speaks as 'we'",
         chars='我们|我司|小编|本店|本行|저희|우리',
         words="we|our|us|we're|we've",
         shape=True),
    _cue("second_person", "speaks to 'you'",
         chars='您|你|고객님|여러분',
         words="you|your|you're",
         shape=True),
)


# Kinds of key, salted into span hashes with a length (``kind + length``). They sit above bit 32
# because salting is an XOR, and the hash of a one-character span is its code point: with kinds
# 1,000 apart, the word 🅳 (U+1F173) once took the key of the character phrase 🤣 (U+1F923).
# Code points and lengths stay below 2**32, so spans of two kinds can no longer meet this way.
_CHAR, _CHAR_START, _WORDS, _WORDS_START, _PREFIX, _PREFIX_START, _PREFIX_HEAD, _FIRST_WORD = (
    k << 32 for k in (1, 2, 3, 4, 5, 6, 8, 9))


@dataclass(frozen=True)
class CueMatches:
    """Where cue phrases occur in an encoded batch: parallel arrays, one entry per match.

    ``start`` and ``end`` index the batch's code points (:class:`postlens.ngrams.Encoded`).
    """

    row: np.ndarray
    cue: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def counts(self, n_posts: int) -> np.ndarray:
        """``(n_posts, len(CUES))`` match counts."""
        flat = np.bincount(self.row * len(CUES) + self.cue, minlength=n_posts * len(CUES))
        return flat.reshape(n_posts, len(CUES)).astype(np.float32)


_SLOTS = 1 << 16  #: size of the bit tables that rule out most spans before an exact look-up


_PAIR_BITS = 16  #: the table of first two characters is indexed by a 16-bit hash of the pair (fits in cache)


def _pair_slot(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Slot of each pair of code points (32-bit arithmetic: a filter only, exact keys are checked later)."""
    with np.errstate(over="ignore"):
        mixed = (first.astype(np.uint32) * np.uint32(0x9E3779B1)) ^ second.astype(np.uint32)
        return ((mixed * np.uint32(0x85EBCA6B)) >> np.uint32(32 - _PAIR_BITS)).astype(np.intp)


def _slot(keys: np.ndarray) -> np.ndarray:
    """Position of 64-bit keys in a table of :data:`_SLOTS` (their top 16 bits)."""
    return (keys >> np.uint64(48)).astype(np.intp)


class _Lexicon:
    """Every cue phrase as a 64-bit key, so a batch's spans are looked up all at once."""

    def __init__(self, cues: Sequence[Cue]):
        # Bit n set at the slot of the first two characters of a character phrase of length n
        # (and of the first word of a phrase of n words): only those spans are hashed and looked up.
        self.head_lengths = np.zeros(1 << _PAIR_BITS, dtype=np.uint16)
        self.first_word_sizes = np.zeros(_SLOTS, dtype=np.uint32)
        char_lengths: set[int] = set()
        char_start_lengths: set[int] = set()
        self.word_sizes: set[int] = set()
        self.word_start_sizes: set[int] = set()
        prefixes: set[tuple[int, bool, int]] = set()  # (words, at start, length of the last one)

        # Character phrases, encoded as one batch.
        chars = [(index, cue, phrase) for index, cue in enumerate(cues) for phrase in cue.chars]
        for _, cue, phrase in chars:
            if not phrase.lstrip("^").strip("0123456789 .,"):
                raise ValueError(f"cue {cue.id!r}: phrase {phrase!r} is only a number; "
                                 "the feature text writes every number as 0, so it would match any number")
        enc = ngrams.encode([phrase.removeprefix("^") for _, _, phrase in chars] or [""])
        lengths = enc.lengths()[: len(chars)]
        at_start = np.array([phrase.startswith("^") for _, _, phrase in chars], dtype=bool)
        starts = enc.starts[: len(chars)]
        key_parts = [ngrams.salted(ngrams.span_hash(enc, starts, lengths), np.where(at_start, _CHAR_START, _CHAR) + lengths)]
        owners = [index for index, _, _ in chars]
        heads = _pair_slot(enc.cp[starts], enc.cp[starts + 1])  # the first two (if there are two)
        for (_, cue, phrase), length, start, head in zip(chars, lengths.tolist(), at_start.tolist(), heads.tolist()):
            (char_start_lengths if start else char_lengths).add(length)
            if length >= 2 and not start:
                if length >= 16:
                    raise ValueError(f"cue {cue.id!r}: phrase {phrase!r} is longer than 15 characters")
                self.head_lengths[head] |= np.uint16(1 << length)

        # Word phrases, encoded as one batch; each one's token hashes folded into one.
        words = [(index, cue, phrase) for index, cue in enumerate(cues) for phrase in cue.words]
        enc = ngrams.encode([phrase.strip("^*") for _, _, phrase in words] or [""])
        tok_start, tok_end = ngrams.tokens(enc)
        tok_hash = ngrams.span_hash(enc, tok_start, tok_end - tok_start)
        bounds = np.searchsorted(enc.row[tok_start], np.arange(len(words) + 1)).tolist()
        folded, salts = [np.zeros(0, dtype=np.uint64)], []
        prefix_phrases: list[tuple[int, bool, int, np.ndarray]] = []  # (words, at start, first token, head hash)
        for w, (index, cue, phrase) in enumerate(words):
            first, stop = bounds[w], bounds[w + 1]
            if first == stop:
                raise ValueError(f"cue {cue.id!r}: phrase {phrase!r} has no words")
            at_start, prefix, n = phrase.startswith("^"), phrase.endswith("*"), stop - first
            h = tok_hash[first:stop]
            if prefix:
                length = int(tok_end[stop - 1] - tok_start[stop - 1])
                prefixes.add((n, at_start, length))
                prefix_phrases.append((n, at_start, first, _fold(h[:-1]) if n > 1 else h))
                salts.append((_PREFIX_START if at_start else _PREFIX) + 100 * n + length)
            else:
                (self.word_start_sizes if at_start else self.word_sizes).add(n)
                salts.append((_WORDS_START if at_start else _WORDS) + n)
                self.first_word_sizes[_slot(ngrams.salted(h[:1], _FIRST_WORD))] |= np.uint32(1 << n)
            folded.append(_fold(h))
            owners.append(index)
        key_parts.append(ngrams.salted(np.concatenate(folded), np.array(salts, dtype=np.int64)))
        keys = np.concatenate(key_parts)
        self.max_words = max([n for n, _, _ in prefixes] + list(self.word_sizes | self.word_start_sizes))
        self.prefixes = {(n, s): np.array(sorted(length for m, t, length in prefixes if (m, t) == (n, s)))
                         for n, s, _ in sorted(prefixes)}
        self.char_lengths = sorted(char_lengths - {1})
        self.char_start_lengths = np.array(sorted(char_start_lengths), dtype=np.int64)
        # A token can end a prefix phrase only if what comes before (the words before it, or for
        # one-word phrases its first few letters) starts some phrase: look those up first.
        self.prefix_heads = {group: np.zeros(_SLOTS, dtype=bool) for group in self.prefixes}
        self.prefix_head_length = {(n, s): int(lengths.min()) for (n, s), lengths in self.prefixes.items() if n == 1}
        for n, at_start, first, before in prefix_phrases:
            if n == 1:
                before = ngrams.span_hash(enc, tok_start[first:first + 1], self.prefix_head_length[(n, at_start)])
            key = ngrams.salted(before, _PREFIX_HEAD + n)
            self.prefix_heads[(n, at_start)][_slot(key)] = True
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        self.keys, first = np.unique(sorted_keys, return_index=True)
        self.offsets = np.append(first, len(sorted_keys))
        self.owners = np.array(owners, dtype=np.int64)[order]
        self.bloom = np.zeros(_SLOTS, dtype=bool)
        self.bloom[_slot(self.keys)] = True
        self.singles = np.zeros(0x20000, dtype=bool)  # one-character phrases (emoji included)
        for cue in cues:
            for phrase in cue.chars:
                if len(phrase) == 1 and ord(phrase) < len(self.singles) - 1:
                    self.singles[ord(phrase)] = True

    def look_up(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(i, cue)`` for every ``keys[i]`` that is a cue phrase (one pair per cue it belongs to)."""
        cand = np.flatnonzero(self.bloom[_slot(keys)])
        if len(cand) == 0:
            return cand, cand
        pos = np.searchsorted(self.keys, keys[cand])
        pos[pos == len(self.keys)] = 0
        hit = self.keys[pos] == keys[cand]
        cand, pos = cand[hit], pos[hit]
        many = self.offsets[pos + 1] - self.offsets[pos]
        if (many == 1).all():
            return cand, self.owners[self.offsets[pos]]
        i = np.repeat(cand, many)
        first = np.repeat(self.offsets[pos], many)
        within = np.arange(len(i)) - np.repeat(np.cumsum(many) - many, many)
        return i, self.owners[first + within]


def _fold(hashes: np.ndarray) -> np.ndarray:
    """The hash of a run of tokens from the tokens' hashes (as :func:`match_cues` computes it)."""
    g = hashes[:1]
    for k in range(1, len(hashes)):
        g = ngrams.combine(g, hashes[k:k + 1])
    return g


_lexicon: _Lexicon | None = None


def _get_lexicon() -> _Lexicon:
    global _lexicon
    if _lexicon is None:
        _lexicon = _Lexicon(CUES)
    return _lexicon


def match_cues(enc: Encoded) -> CueMatches:
    """Every phrase of every cue in an encoded batch (the ``count`` cues are not included).

    All candidate spans are hashed in a few vector operations and looked up once.
    """
    lex = _get_lexicon()
    spans: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (start, end, key)

    def spans_of(at: np.ndarray, lengths: np.ndarray, kind: int) -> None:
        keys = ngrams.salted(ngrams.span_hash(enc, at, lengths), kind + lengths)
        spans.append((at, at + lengths, keys))

    def grid(at: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (position, length) pair whose span stays inside its post."""
        at, n = np.repeat(at, len(lengths)), np.tile(lengths, len(at))
        ok = enc.room[at] >= n
        return at[ok], n[ok]

    # Character phrases: single characters by table, longer ones where a phrase's first two are.
    at = np.flatnonzero(lex.singles[np.minimum(enc.cp, len(lex.singles) - 1)])
    spans.append((at, at + 1, ngrams.salted(enc.cp[at].astype(np.uint64), _CHAR + 1)))
    lengths = lex.head_lengths[_pair_slot(enc.cp[:-1], enc.cp[1:])]
    at = np.flatnonzero(lengths)
    lengths = lengths[at]
    for n in lex.char_lengths:
        here = at[(lengths & np.uint16(1 << n)) != 0]
        here = here[enc.room[here] >= n]
        spans_of(here, np.full(len(here), n), _CHAR)
    spans_of(*grid(enc.starts, lex.char_start_lengths), _CHAR_START)

    # Word phrases: hashes of runs of 1, 2, ... tokens inside one post.
    tok_start, tok_end = ngrams.tokens(enc)
    tok_row = enc.row[tok_start]
    tok_hash = ngrams.span_hash(enc, tok_start, tok_end - tok_start)
    first = np.concatenate(([True], tok_row[1:] != tok_row[:-1]))
    runs = {1: tok_hash}  # runs[n][i]: hash of tokens i .. i+n-1
    inside = {1: np.ones(len(tok_hash), dtype=bool)}
    for n in range(2, lex.max_words + 1):
        if len(tok_hash) < n:
            break
        runs[n] = ngrams.combine(runs[n - 1][:-1], tok_hash[n - 1:])
        inside[n] = tok_row[: len(tok_hash) - n + 1] == tok_row[n - 1:]
    sizes_from = lex.first_word_sizes[_slot(ngrams.salted(tok_hash, _FIRST_WORD))]
    for n in runs:
        starts_one = inside[n] if n == 1 else inside[n] & ((sizes_from[: len(inside[n])] & np.uint32(1 << n)) != 0)
        for kind, sizes, where in ((_WORDS, lex.word_sizes, starts_one),
                                   (_WORDS_START, lex.word_start_sizes, starts_one & first[: len(inside[n])])):
            if n in sizes:
                i = np.flatnonzero(where)
                spans.append((tok_start[i], tok_end[i + n - 1], ngrams.salted(runs[n][i], kind + n)))
    for (n, at_start), lengths in lex.prefixes.items():
        if n not in runs:
            continue
        i = np.flatnonzero(inside[n] & first[: len(inside[n])] if at_start else inside[n])
        last = i + n - 1
        if n == 1:
            head_length = lex.prefix_head_length[(n, at_start)]
            i = i[tok_end[last] - tok_start[last] >= head_length]
            before = ngrams.span_hash(enc, tok_start[i], head_length)
        else:
            before = runs[n - 1][i]
        i = i[lex.prefix_heads[(n, at_start)][_slot(ngrams.salted(before, _PREFIX_HEAD + n))]]
        i, length = np.repeat(i, len(lengths)), np.tile(lengths, len(i))
        last = i + n - 1
        ok = tok_end[last] - tok_start[last] >= length
        i, length, last = i[ok], length[ok], last[ok]
        g = ngrams.span_hash(enc, tok_start[last], length)
        if n > 1:
            g = ngrams.combine(runs[n - 1][i], g)
        kind = (_PREFIX_START if at_start else _PREFIX) + 100 * n
        spans.append((tok_start[i], tok_end[last], ngrams.salted(g, kind + length)))

    start = np.concatenate([s for s, _, _ in spans])
    end = np.concatenate([e for _, e, _ in spans])
    i, cue = lex.look_up(np.concatenate([k for _, _, k in spans]))
    return CueMatches(enc.row[start[i]], cue, start[i], end[i])


def cue_values(docs: Sequence[str], enc: Encoded, matches: CueMatches | None = None) -> np.ndarray:
    """``(len(docs), len(CUES))``: ``log1p`` of how often each cue occurs in each post."""
    counts = (match_cues(enc) if matches is None else matches).counts(len(docs))
    posts = Posts(docs)
    for j, cue in enumerate(CUES):
        if cue.count is not None:
            counts[:, j] += cue.count(posts)
    return np.log1p(counts)


_SPACES = re.compile(r"[ \t]+")


def strip_cue_phrases(docs: Sequence[str]) -> list[str]:
    """``docs`` with every wording cue's phrases cut out (the cues about form are kept).

    Training adds such copies of its posts so the model also learns what real posts say
    around the obvious phrases; many real posts never use them.
    """
    enc = ngrams.encode(docs, positions=True)
    m = match_cues(enc)
    wording = ~np.array([cue.shape for cue in CUES])[m.cue]
    out = list(docs)
    if len(m.row) == 0:
        return out
    row, start, end = m.row[wording], enc.source[m.start[wording]], enc.source[m.end[wording]]
    order = np.lexsort((start, row))
    spans: dict[int, list[tuple[int, int]]] = {}
    for r, s, e in zip(row[order].tolist(), start[order].tolist(), end[order].tolist()):
        spans.setdefault(r, []).append((s, e))
    for r, cuts in spans.items():
        doc, pieces, pos = out[r], [], 0
        for s, e in cuts:
            if s > pos:
                pieces.append(doc[pos:s])
            pos = max(pos, e)
        pieces.append(doc[pos:])
        out[r] = _SPACES.sub(" ", " ".join(pieces)).strip()
    return out
