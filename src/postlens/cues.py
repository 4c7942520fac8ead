"""Cues from the codebook: the phrases and shapes that annotators look for.

Each :class:`Cue` is a named pattern (Chinese, English and Korean alternatives in one
regular expression) with a plain-words description used as evidence. Cues are features the
model weighs, never rules: "抽奖" points towards community, but a draw you enter by buying is
still a hard ad, and the model learns that from the other features.

Cues read the output of :func:`postlens.text.normalize` (placeholders ``<url>``, ``@user``,
``<email>``, ``<phone>``; full-width forms already folded).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Cue", "CUES", "strip_cue_phrases"]


@dataclass(frozen=True)
class Cue:
    """A codebook cue: ``id``, what it means in words, and the pattern that finds it."""

    id: str
    description: str
    pattern: re.Pattern[str]
    shape: bool = False  #: about the form of the post (links, emoji, length, @reply), not its wording


def _cue(id: str, description: str, *alternatives: str, flags: int = re.I, shape: bool = False) -> Cue:
    return Cue(id, description, re.compile("|".join(f"(?:{a})" for a in alternatives), flags), shape)


CUES: tuple[Cue, ...] = (
    # ---- hard_ad: selling -------------------------------------------------------------
    _cue("price", "mentions a price",
         r"[¥￥$€£₩]\s?\d", r"\d+(?:\.\d+)?\s?(?:元|块|rmb|usd|원|円)(?![旦月])", r"到手价|券后|原价|特价|价格|低至|仅需|只要\d",
         r"\bprice[sd]?\b|\bonly \$|\bfrom \$|\bper month\b|/mo\b", r"가격|정가"),
    _cue("discount", "offers a discount, coupon or sale",
         r"\d+(?:\.\d)?\s?折", r"满\d+减|立减|优惠|打折|折扣|降价|让利|秒杀|限时|特惠|福利价|清仓|包邮|赠品|买一送一|第二件|领券|优惠券|红包雨",
         r"\d+\s?% off|\boff (?:everything|sitewide|all)\b|\bdiscount|\bsale\b|\bcoupon|\bpromo(?: code)?\b|\bcode [A-Z0-9]{3,}\b|\bdeal[s]?\b|\bbogo\b|free shipping|\bsave \d|\bsave up to\b|clearance|\bflash\b",
         r"할인|쿠폰|특가|세일|무료배송"),
    _cue("buy_call", "tells the reader to buy or order",
         r"立即(?:购买|下单|抢购|预订|订购)|马上抢|抢购|开抢|去抢|下单|购买|点击(?:下方)?链接|阅读原文|扫码|加购|囤货|入手|拍下|预售|预订|预约购|到店|官方旗舰店|天猫|京东|淘宝|购票|门票|抢票",
         r"\bbuy\b|\bshop\b|\border (?:now|yours|today|online)\b|link in (?:bio|profile)|\bget yours\b|\bgrab (?:yours|one|it)\b|\bpre-?order|\bavailable (?:now|today|in-store|online|at)\b|\bin stores\b|\btap to\b|\bcheckout\b|\bcart\b|\btickets?\b|\bbook (?:now|yours|today|your)\b|\breserve\b|\bstream (?:it )?now\b",
         r"구매|주문|구입|장바구니|바로가기"),
    _cue("paid_signup", "pushes a paid sign-up, subscription or app download",
         r"开通(?:会员|vip)|会员(?:卡|年卡|专享)|订阅|下载(?:app|客户端)|注册即送|免费试用|课程报名",
         r"\bsubscribe\b|\bsubscription\b|\bdownload (?:the|our|now)\b|\bfree trial\b|\bupgrade to\b|\bmembership\b|\bsign up (?:now|today)\b|\bplans? (?:start|from)\b",
         r"구독|다운로드|가입하"),
    _cue("product_launch", "launches or praises a product",
         r"新品|上市|首发|全新|上新|爆款|新口味|限量|联名|同款|热卖|人气|必买|好物|种草",
         r"\bnew (?:arrival|collection|flavou?r|release)s?\b|\bjust (?:dropped|landed|arrived)\b|\blimited edition\b|\bnow available\b|\bbest-?seller|\bcolou?rways?\b|\bintroducing\b",
         r"신제품|출시|한정판"),
    _cue("product_copy", "describes a product's design and materials",
         r"面料|版型|设计|百搭|显瘦|修身|质感|尽显|气质|亲肤|透气|舒适|采用|精致|时尚|优雅|材质|做工|保湿|滋润|口感|香气|容量|续航",
         r"\bcrafted\b|\bpremium\b|\bfabric\b|\bcomfort|\bsoft\b|\blightweight\b|\bdesigned (?:for|to|with)\b|\bfeatures?\b|\bfinish\b|\bformula\b",
         r"소재|디자인|착용감"),
    _cue("shopping_festival", "ties in with a shopping festival",
         r"618|双(?:11|十一|12|十二)|年货节|周年庆|会员日|大促|狂欢节",
         r"black friday|cyber monday|prime day|boxing day|11\.11|singles'? day"),
    # ---- service: helping users -------------------------------------------------------------
    _cue("reply_to_customer", "replies to one person (starts with a @handle)",
         r"^(?:@user[\s:：,，]*)+", flags=0, shape=True),
    _cue("greeting_customer", "addresses a customer directly",
         r"^(?:您好|你好|亲爱的|亲[,，!！~ ])|^(?:hi|hey|hello|dear)\b[^.!?\n]{0,20}[,!]|^(?:안녕하세요|고객님)"),
    _cue("apology", "apologises",
         r"抱歉|不便|对不起|歉意|见谅|不好意思",
         r"\bsorry\b|\bapologi[sz]e|\bapologies\b|\bunfortunately\b|\bfrustrat|\binconvenience\b",
         r"죄송|불편을"),
    _cue("contact_us", "asks the customer to contact or message the brand",
         r"私信|私聊|联系(?:我们|客服|人工)|客服|致电|热线|拨打|在线咨询|留下(?:您的)?联系方式",
         r"\bdm\b|\bdirect message|\bsend us\b|\breach out\b|\bcontact (?:us|our)\b|\bcall us\b|\bgive us a call\b|\bhelp ?desk\b|\bsupport team\b|\bget in touch\b|<phone>|<email>",
         r"문의|고객센터|상담"),
    _cue("asks_details", "asks for an order, booking or account detail",
         r"订单号|手机号|账号|单号|运单|身份证|卡号|预订号|票号|截图|型号|版本号|具体(?:情况|问题)",
         r"\border (?:number|no|#|id)\b|\bbooking (?:ref|reference|number|code)|\bconfirmation (?:number|code)\b|\baccount (?:number|details|email)\b|\btracking (?:number|no)\b|\bzip ?code\b|\bpostcode\b|\bscreenshot\b|\bserial number\b|\bwhich (?:device|version|model|browser|store|flight)\b|\bmay we have\b|\bcould you (?:confirm|tell|share|send|check)\b",
         r"주문번호|예약번호|연락처"),
    _cue("clarifying_question", "asks the customer a clarifying question",
         r"请问(?:您|你)|您是(?:否|在|用|使用)|是否(?:有|已|可以)|您(?:那边|这边)|麻烦您",
         r"\bare you (?:using|on|still|seeing|able)\b|\bdid you\b|\bhave you (?:tried|checked|updated|received)\b|\bis (?:this|it) happening\b|\bwhat (?:device|version|error)\b",
         r"혹시|하셨나요|계신가요"),
    _cue("troubleshooting", "gives troubleshooting steps",
         r"重启|重新(?:登录|安装|连接|下载|打开)|清除|缓存|卸载|设置[—\-–>]|升级到|更新到|退出(?:登录)?后|检查(?:一下)?网络|刷新|复位|恢复出厂",
         r"\brestart|\breinstall|\bre-?boot|\bclear (?:the |your )?cache|\bsettings?\s*>|\blog (?:out|back in)\b|\bsign out\b|\bupdate (?:to|the app|your app)|\breset\b|\bforce (?:quit|close)|\buninstall|\btry again\b|\bpower cycle\b",
         r"재시작|재설치|업데이트"),
    _cue("service_notice", "announces a service notice (hours, outage, delay, maintenance, policy)",
         r"通知|公告|提醒|调整|暂停|恢复|停运|停机|延误|取消|维护|营业时间|放假|停业|闭馆|开放时间|升级期间|故障|临时|告知|规则|须知|说明",
         r"\bnotice\b|\bmaintenance\b|\boutage\b|\bdelay(?:ed|s)?\b|\bcancel(?:l)?ed\b|\bdisruption|\bservice (?:update|alert|change)|\bopening hours\b|\bholiday hours\b|\bclosed\b|\breopen|\bdowntime\b|\bscheduled\b|\bpolicy\b|\bterms\b|\bresolved\b|\bback up and running\b|\bheads up\b|\bplease note\b",
         r"공지|안내|점검|운영시간|휴무|지연"),
    _cue("how_to", "explains how to do something with the service",
         r"如何|怎么|怎样|教(?:您|你)|指南|步骤|操作|办理|流程|入口|路径|使用方法|小技巧|一键|在哪",
         r"\bhow to\b|\bhere'?s how\b|\bstep(?:s| \d)\b|\bguide\b|\bfaq\b|\btutorial\b|\bfollow (?:these|the) steps\b|\bgo to\b|\btap\b|\bselect\b|\bclick\b|\benable\b",
         r"방법|하는 법|단계"),
    _cue("safety", "warns about safety, fraud or a recall",
         r"召回|诈骗|防骗|骗子|安全(?:提示|须知|隐患)|谨防|警惕|冒充|钓鱼",
         r"\brecall|\bscam|\bfraud|\bphishing|\bsafety\b|\bwarning\b|\bsuspicious\b|\bimpersonat",
         r"사기|리콜|주의"),
    _cue("account_function", "offers an account or query function",
         r"回复\s?\d|查询|账单|余额|积分|额度|绑定|解绑|挂失|缴费|还款|退款|退货|换货|补发|物流|快递|发货|到账|改签|退票|值机|行李",
         r"\bbalance\b|\bstatement\b|\bbill(?:ing)?\b|\brefund|\breturn(?:s|ed)?\b|\bexchange\b|\bdelivery\b|\bshipping status\b|\btrack(?:ing)?\b|\bcheck-?in\b|\bbaggage\b|\brebook|\bpassword\b|\blogin\b|\bcharged\b|\bpayment\b",
         r"환불|배송|조회|결제"),
    _cue("support_signoff", "is signed off by a support agent",
         r"(?:\s[\^*/\-–—~]\s?[A-Z][A-Za-z]{0,10}|\s\^[A-Z]{1,3})(?:\s+\d/\d)?\s*(?:<url>)?\s*$", flags=0, shape=True),
    # ---- community: taking part -------------------------------------------------------------
    _cue("question_to_followers", "asks followers a question",
         r"你们|大家|小伙伴|宝宝们|粉丝们|你最|你会|你觉得|你家|哪(?:个|一|款|种)|有没有人|猜猜|来说说|说说你|聊聊|告诉我们|留言(?:告诉|说说|分享)",
         r"\bwhich (?:one|flavou?r|would|do you)\b|\bwhat(?:'s| is| are) your\b|\bwho(?:'s| is) (?:your|ready)\b|\bwould you rather\b|\btell us\b|\blet us know (?:in|below|what|which|your)\b|\bcomment below\b|\bdrop (?:a|an|your)\b|\bwhat do you think\b|\bguess\b|\bfavou?rite\b",
         r"여러분|어떤|골라|댓글로"),
    _cue("contest", "runs a draw, contest or giveaway to enter by taking part",
         r"抽奖|抽取|抽\d+|转发|评论区|留言区|晒|有奖|赢取|赢得|征集|投稿|大赛|挑战赛|送出|免费领|宠粉|福利|锦鲤|中奖|获奖名单|打卡",
         r"\bgiveaway|\bwin\b|\bwinners?\b|\bchance to\b|\benter\b|\bcontest\b|\bsweepstakes\b|\bretweet\b|\brt (?:to|for)\b|\btag (?:a|your|someone|two|3)\b|\bshare your\b|\bshow us\b|\bsnap a\b|\bchallenge\b|\bcomment (?:to|with|below)\b",
         r"이벤트|추첨|경품|당첨|댓글"),
    _cue("thanks_fans", "thanks or features fans",
         r"感谢|谢谢|多谢|粉丝|宠粉|小可爱|陪伴|一路有你|晒单|返图|买家秀",
         r"\bthanks? (?:for|so much|a lot|to all|everyone)\b|\bthank you\b|\bshout ?-?out\b|\blove (?:this|it|that|seeing)\b|\bgreat (?:photo|pic|shot)\b|\bfans?\b|\bfollowers\b|\bcommunity\b|\bfeatured\b|\bregram\b|\brt @user",
         r"감사|팬|고마"),
    _cue("join_community", "invites users to join a group, club or event",
         r"社群|进群|加群|入群|群聊|粉丝群|会员俱乐部|俱乐部|见面会|线下活动|沙龙|报名|参与|一起来|共创|志愿者|问卷|调研|投票|内测|体验官",
         r"\bjoin (?:us|our|the)\b|\bmeet-?ups?\b|\bregist(?:er|ration)\b|\bsign up for (?:the|our) (?:event|meetup|workshop|session)|\bclub\b|\bmembers\b|\bworkshops?\b|\bvolunteer|\bpoll\b|\bvote\b|\bsurvey\b|\bfeedback\b|\brsvp\b|\bsee you (?:there|at)\b|\bsessions?\b|\bbeta\b|\bambassador",
         r"모임|참여|커뮤니티|설문|투표|신청"),
    _cue("greeting", "sends a greeting",
         r"快乐|早安|晚安|早上好|周末愉快|节日|祝(?:您|你|大家)|新年|除夕|中秋|春节|圣诞|元旦",
         r"\bhappy (?:holidays|new year|\w+ day|thanksgiving|diwali|easter|friday|monday|weekend)\b|\bmerry christmas\b|\bgood morning\b|\bseason'?s greetings\b|\bhave a (?:great|good|lovely|wonderful)\b|\bcheers\b",
         r"새해|추석|메리|좋은 하루"),
    _cue("invitation", "invites the reader to an event",
         r"邀请函|邀(?:你|您)|诚邀|邀请(?:您|你)|约(?:你|您)|等你来|不见不散|开放报名|报名开启|火热报名",
         r"\binvit(?:e|ed|ation)\b|\byou'?re invited\b|\bjoin us (?:at|for|on)\b|\bsave the date\b|\bdon'?t miss\b|\bregistration (?:is )?open",
         r"초대|초청"),
    _cue("quiz_game", "offers a quiz, test or game to play",
         r"测试|测一测|答题|挑战|小游戏|闯关|合成|拼图|猜(?:谜|一猜)|H5|互动时间|真粉|玩法",
         r"\bquiz\b|\btrivia\b|\bpuzzle\b|\bplay (?:now|along|our)\b|\bmini-?game\b|\bspot the\b|\bfill in the blank\b|\bcaption\b",
         r"퀴즈|게임"),
    _cue("rally_fans", "rallies fans and followers",
         r"加油|冲鸭|一起|我们来了|集合|等你|欢迎|见证|支持|陪伴|同框|应援|打call",
         r"\blet'?s go\b|\bcome on\b|#matchday|\bsupport\b|\bwelcome\b|\bcaption this\b|\bwho'?s ready\b|\btogether\b|\bcheer|\bfamily\b|\bnation\b|\bsee you\b|\byour house\b",
         r"응원|함께|환영"),
    # ---- brand_news: the organisation itself --------------------------------------------------
    _cue("honour", "reports an award or honour the organisation won",
         r"荣获|获评|获颁|获得.{0,12}(?:奖|称号|认证)|入选|荣登|殊荣|称号|奖项|喜报|表彰|授予",
         r"\baward(?:s|ed)?\b|\brecogni[sz]ed\b|\bnamed (?:a|one|the|to|among)\b|\branked\b|\bhonou?red\b|\bwinner of\b|\bcertified\b|\baccolade|\btop employer\b|\bbest place to work\b",
         r"수상|선정"),
    _cue("leadership", "reports on the organisation's leaders",
         r"董事长|总裁|总经理|首席|创始人|高管|行长|书记|领导|出席|致辞|发表演讲|演讲|峰会|会见|调研指导|座谈|任命|履新",
         r"\bceo\b|\bcfo\b|\bcto\b|\bchairman\b|\bpresident\b|\bfounder\b|\bexecutive\b|\bkeynote\b|\bsummit\b|\bpanel\b|\bforum\b|\bappoint|\bleadership\b|\bboard\b|\bspoke\b|\binterview\b",
         r"대표|회장|사장|취임"),
    _cue("deal", "announces a partnership, agreement or acquisition",
         r"签约|签署|战略合作|合作协议|携手|达成|联手|牵手|收购|并购|投资|入股|合作伙伴|框架协议|备忘录",
         r"\bpartner(?:ship|ed|s with| with)\b|\bagreement\b|\bsigned\b|\bacqui(?:re|red|sition)\b|\bmerger\b|\bmou\b|\bteams up\b|\bcollaborat|\balliance\b|\bjoint venture\b|\binvest(?:s|ed|ment)\b",
         r"협약|제휴|인수|파트너십"),
    _cue("financials", "reports results, funding or investor news",
         r"财报|营收|营业收入|净利润|利润|业绩|季度|年报|股东|股价|融资|上市|ipo|分红|市值|同比|增长\d",
         r"\$[A-Z]{1,5}\b|\brevenue\b|\bearnings\b|\bquarter(?:ly)?\b|\bq[1-4]\b|\bfiscal\b|\bfy\d|\bshareholders?\b|\bdividend|\binvestors?\b|\bconference call\b|\bforward-looking\b|\bfunding\b|\bseries [a-d]\b|\bresults\b|\bguidance\b|\bnon-gaap\b|\bannual report\b",
         r"실적|매출|영업이익|투자"),
    _cue("milestone", "marks a company milestone (anniversary, opening, launch of a site)",
         r"周年|成立|揭牌|投产|开业|落成|奠基|里程碑|启用|开工|竣工|乔迁|正式启动|总部|工厂|基地|旗舰店|开幕|亮相|发布会",
         r"\banniversary\b|\bmilestone\b|\bheadquarters\b|\bfacility\b|\bplant\b|\bgrand opening\b|\bopens? (?:its|our|a new)\b|\bbreak(?:s)? ground\b|\bfounded\b|\byears? (?:ago|of)\b|\bexpansion\b|\bunveil",
         r"주년|설립|개소|준공"),
    _cue("csr", "reports charity, sustainability or social responsibility",
         r"公益|捐赠|捐款|捐建|慈善|可持续|社会责任|esg|碳中和|减排|环保|助学|扶贫|乡村振兴|基金会",
         r"\bdonat|\bcharity\b|\bsustainab|\bcsr\b|\besg\b|\bfoundation\b|\bnon-?profit\b|\bcarbon\b|\bemissions\b|\bclimate\b|\bgood cause\b|\bsocial impact\b|\bdiversity\b|\binclusion\b",
         r"기부|사회공헌|지속가능|봉사"),
    _cue("hiring", "recruits staff",
         r"招聘|校招|社招|岗位|职位|实习生|管培生|人才|简历|应聘",
         r"\bwe'?re hiring\b|\bhiring\b|\bcareers?\b|\bjob (?:opening|opportunit)|\bjoin our team\b|\bvacanc|\bapply now\b|\binternship|\bgraduate programme\b|\brecruit",
         r"채용|모집|인재"),
    _cue("press_headline", "reads like a press headline about the organisation",
         r"(?:^|[\s#@\"“])[A-Z][\w&'.!-]*(?:\s[A-Z][\w&'.-]*)*\s(?:launches|expands|unveils|opens|announces|acquires|"
         r"creates|names|appoints|reports|celebrates|joins|signs|invests|completes|partners|commits|pledges|"
         r"receives|wins|debuts|introduces|rolls out|teams up|selects|becomes|marks|reaches|hits|tops)\b",
         r"(?:集团|公司|银行|股份)(?:发布|推出|宣布|启动|亮相|入选|获)",
         flags=0),
    _cue("chat_answer", "answers in a live Q&A chat", r"^[AQ]\d{1,2}[a-z]?(?::|\s)", flags=0),
    _cue("corporate_voice", "speaks as the company (announces, we are proud)",
         r"集团|公司|我司|本公司|宣布|重磅|隆重|热烈祝贺|祝贺|喜迎",
         r"\bannounc|\bproud(?:ly)? to\b|\bwe are (?:pleased|delighted|excited) to\b|\bcompany\b|\bgroup\b|\bcorporate\b|\bglobal\b|\bpress release\b|\bstatement\b|\bcongratulat|\bour (?:team|people|employees|colleagues)\b",
         r"기업|회사|그룹|발표"),
    # ---- user_interest: worth reading for its own sake -----------------------------------------
    _cue("knowledge", "shares knowledge, tips or advice",
         r"技巧|窍门|妙招|知识|科普|你知道吗|原来|为什么|攻略|干货|收藏|方法|秘诀|建议|误区|注意事项|小贴士|真相|揭秘|冷知识|盘点|必看",
         r"\btips?\b|\bways to\b|\bdid you know\b|#didyouknow|\bwhy\b|\bhacks?\b|\bfacts?\b|\blessons?\b|\bsecrets?\b|\bmistakes?\b|\bthings to\b|\bexplained\b|\blearn\b|\binsights?\b|\bresearch\b|\bstudy\b|\btrends?\b",
         r"꿀팁|방법|알아보|상식"),
    _cue("listicle", "is a numbered list or roundup",
         r"\d+\s?(?:个|种|款|招|条|件|大|步|分钟)", r"\b\d+\s(?:ways|tips|things|reasons|ideas|steps|books|places|habits|signs)\b|\btop \d+\b",
         r"\d+\s?가지"),
    _cue("insight", "offers industry insight, analysis or research",
         r"洞察|解读|分析|趋势|报告|案例|复盘|观察|一图读懂|看懂|读懂|白皮书|研究|数据显示|行业|策略|观点|前瞻",
         r"\binsights?\b|\banalysis\b|\breport\b|\btrends?\b|\bresearch\b|\bstudy\b|\bexplained\b|\bdeep dive\b|\bcase study\b|\bindustry\b|\bfuture of\b|\bdata shows?\b|\bsurvey finds\b|\bexperts?\b",
         r"분석|트렌드|연구|인사이트"),
    _cue("entertainment", "is about shows, music, games, sport or films",
         r"剧|综艺|电影|影视|歌单|音乐|游戏|动漫|看点|追剧|演唱会|比赛|球迷|赛季|冠军|主题曲|预告片|彩蛋",
         r"\bhighlights?\b|\bepisode\b|\bseason \d|\btrailer\b|\bplaylist\b|\bwatch\b|\bvideo\b|\bclip\b|\bgame ?day\b|\bmatch\b|\bgoal\b|\bfilm\b|\bmovie\b|\bsong\b|\balbum\b|\bshow\b|\bseries\b",
         r"드라마|영화|음악|게임|경기"),
    _cue("food_recipe", "shares food or a recipe",
         r"做法|食谱|菜谱|美食|好吃|味道|烘焙|早餐|午餐|晚餐|下午茶|饮品|零食|吃法",
         r"\brecipes?\b|\bdessert\b|\bingredients?\b|\bcook(?:ing)?\b|\bbak(?:e|ing)\b|\bbreakfast\b|\blunch\b|\bdinner\b|\bsnack\b|\bflavou?rs?\b|\btasty\b|\bdelicious\b",
         r"레시피|요리|맛집"),
    _cue("health_science", "shares health or science knowledge",
         r"健康|医生|科学|营养|睡眠|养生|疾病|症状|预防|免疫|运动|减脂|心理|护眼|宝宝|育儿",
         r"\bhealth(?:y)?\b|\bdoctors?\b|\bscience\b|\bnutrition|\bsleep\b|\bsymptoms?\b|\bprevent|\bimmune\b|\bexercise\b|\bwellbeing\b|\bwellness\b|\bmental health\b|\bbrain\b|\bcancer\b|\bheart\b",
         r"건강|수면|영양|운동"),
    _cue("travel_place", "is about travel and places",
         r"旅行|旅游|景点|古城|古镇|风景|航拍|山|湖|海边|徒步|露营|城市漫步|自驾|打卡地|秘境|人间仙境|江南",
         r"\btravel|\bdestinations?\b|\bspots?\b|\bbeach(?:es)?\b|\bcity\b|\btrip\b|\bholiday\b|\bvacation\b|\bhike|\bmountains?\b|\bisland\b|\bexplore\b|\bview\b|\broad ?trip\b",
         r"여행|명소|풍경"),
    _cue("people_story", "tells a story about people",
         r"故事|人物|他们|她们|记录|少年|青春|图鉴|一位|那些|背后|回忆|时光|岁月|平凡",
         r"\bstory\b|\bstories\b|\bjourney\b|\bmeet (?:the|our|\w+,)|\binspiring\b|\bher\b|\bhis\b|\bbehind[- ]the[- ]scenes\b|\bwho (?:made|turned|built)\b|\blife\b",
         r"이야기|사람들"),
    _cue("throwback", "looks back at history or tradition",
         r"历史|传统|习俗|节气|立春|清明|端午|冬至|中秋|文化|非遗|古代|年前|老照片|那年|怀旧",
         r"\bhistory\b|\btradition|\bthrowback\b|#tbt|\bflashback\b|\blook(?:ing)? back\b|\bon this day\b|\b\d+ years (?:ago|later)\b|\bheritage\b|\bculture\b|\bvintage\b|\bclassic\b",
         r"역사|전통|문화"),
    _cue("humour", "jokes or plays with pop culture",
         r"哈哈|笑|段子|表情包|梗|沙雕|神回复|[😂🤣😆]",
         r"\blol\b|\blmao\b|\bmeme|\bfunny\b|\bjoke|\bmood\b|\bplot twist\b|\bweirdly\b|\bwhen you\b|\bme:|\bnobody:|😂|🤣|😅",
         r"ㅋㅋ|ㅎㅎ|웃"),
    # ---- shape of the post ------------------------------------------------------------------
    _cue("short_post", "is very short (a title or one-liner)", r"\A.{0,24}\Z", flags=re.S, shape=True),
    _cue("long_post", "is long (an article digest or long post)", r"\A.{280}", flags=re.S, shape=True),
    _cue("title_brackets", "has a bracketed headline tag like 【...】", r"【[^】]{1,15}】|\[[^\]<>]{1,12}\]|^[^|｜\n]{1,8}[|｜]", flags=0, shape=True),
    _cue("first_person_plural", "speaks as 'we'",
         r"我们|我司|小编|本店|本行", r"\bwe\b|\bour\b|\bus\b|\bwe're\b|\bwe've\b", r"저희|우리", shape=True),
    _cue("second_person", "speaks to 'you'",
         r"您|你", r"\byou\b|\byour\b|\byou're\b", r"고객님|여러분", shape=True),
)


_SPACES = re.compile(r"[ \t]+")


def strip_cue_phrases(text: str) -> str:
    """``text`` with every wording cue's matches cut out (shape cues kept).

    Training adds such copies of its posts so the model also learns what real posts say
    around the obvious phrases; many real posts never use them.
    """
    for cue in CUES:
        if not cue.shape:
            text = cue.pattern.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
