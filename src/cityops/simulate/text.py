"""Chinese free text for simulated reports and calls: per-class templates × vocabulary.

Each class has its own words (what is wrong, details, what it causes) so a text classifier
trained on closed cases learns something real; places, times and politeness vary so no two
texts are the same. Pure: takes a ``random.Random``.
"""

from __future__ import annotations

import random

ROADS = (
    "丰台路", "南三环西路", "马家堡东路", "角门路", "丰益桥", "看丹路", "科学城路", "花乡路",
    "西四环南路", "总部基地路", "大红门路", "方庄路", "蒲黄榆路", "卢沟桥路", "长辛店大街",
    "云岗路", "青塔西路", "五里店路", "芳城园路", "石榴庄路", "成寿寺路", "榴乡路", "六里桥路",
    "丽泽路", "草桥东路", "槐房路", "樊家村路", "丰体南路", "岳各庄路", "东管头路",
)  # fmt: skip
PLACES = {
    "market": ("农贸市场", "早市", "菜市场", "批发市场", "商场"),
    "school": ("小学", "中学", "幼儿园", "培训学校"),
    "station": ("地铁站", "公交站", "火车站南广场", "长途汽车站"),
    "construction": ("在建工地", "拆迁工地", "道路施工现场"),
    "residential": ("小区", "家属院", "老旧小区", "公寓", "回迁楼"),
    "street": ("路口", "人行道", "辅路", "过街天桥下", "便道", "胡同口"),
}
TIMES = (
    "今天早上", "今天上午", "中午", "今天下午", "傍晚", "昨天晚上", "最近几天", "这一周以来",
    "每天晚上", "周末", "已经半个多月了", "好几天了", "刚才",
)  # fmt: skip
OPENERS = ("市民来电反映：", "来电人反映：", "市民反映，", "来电称，", "市民致电称：")
ASKS = (
    "希望有关部门尽快处理。", "请尽快派人处理。", "要求相关部门解决。", "希望尽快整改。",
    "希望相关部门管一管。", "请核实处理并回复。", "多次反映未解决，希望重视。",
)  # fmt: skip
INSPECTOR_TAILS = ("已拍照上报。", "现场已拍照。", "请派遣处置。", "需尽快处置。", "")

#: Specific vocabulary of the frequent and distinctive classes: (what, details, impact).
CLASS_WORDS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    ("event", "0507"): (
        ("乱堆物堆料", "堆放杂物", "堆放建材", "堆放旧家具和纸箱", "堆放砖头沙石"),
        ("占用人行道", "堆在楼道口", "堆了一大片", "长期没人清理"),
        ("影响通行", "存在消防隐患", "影响市容"),
    ),
    ("event", "0102"): (
        ("暴露垃圾", "垃圾散落", "生活垃圾堆在路边", "垃圾没人清运"),
        ("散发异味", "招苍蝇", "垃圾袋被扒开", "满地都是"),
        ("气味难闻", "影响环境卫生", "影响居民生活"),
    ),
    ("event", "0103"): (
        ("积存垃圾渣土", "渣土堆积", "建筑垃圾堆积", "装修垃圾长期积存"),
        ("堆了很久", "越堆越多", "有人偷偷倾倒"),
        ("刮风扬尘", "影响环境", "占用绿地"),
    ),
    ("event", "0104"): (
        ("道路不洁", "路面脏", "路面有油污", "落叶和纸屑没人扫"),
        ("保洁不到位", "很久没有清扫", "路面泥泞"),
        ("影响市容", "行人路过很脏"),
    ),
    ("event", "0201"): (
        ("非法小广告", "小广告", "张贴办证小广告", "喷涂小广告", "牛皮癣广告"),
        ("贴满电线杆", "贴在楼道墙上", "喷在墙上", "清了又贴"),
        ("影响市容", "很不美观"),
    ),
    ("event", "0501"): (
        ("无照经营游商", "流动摊贩", "游商摆摊", "小商贩推车叫卖"),
        ("卖水果蔬菜", "卖煎饼", "占着路口", "城管走了又回来"),
        ("造成拥堵", "影响通行", "噪音扰民"),
    ),
    ("event", "0504"): (
        ("店外经营", "商户出店经营", "饭馆在门外摆桌", "店铺把货物摆到门外"),
        ("占用人行道", "摆了好几张桌子", "货架摆到路边"),
        ("行人只能走机动车道", "影响通行"),
    ),
    ("event", "0505"): (
        ("机动车乱停放", "汽车乱停", "车辆违停", "机动车占道停放"),
        ("停在消防通道", "堵住小区出入口", "压着人行道", "双排停车"),
        ("救护车进不来", "造成拥堵", "影响通行"),
    ),
    ("event", "0506"): (
        ("非机动车乱停放", "共享单车乱停", "电动车乱停", "自行车堆放"),
        ("堆满出入口", "倒了一片", "占用盲道"),
        ("影响通行", "行人无法通过"),
    ),
    ("event", "0503"): (
        ("占道废品收购", "废品收购占道", "收废品的占道经营"),
        ("废品堆在路边", "三轮车堆满废纸箱"),
        ("影响市容", "存在安全隐患"),
    ),
    ("event", "0510"): (
        ("露天烧烤", "路边烧烤", "烧烤摊"),
        ("烟熏火燎", "晚上营业到很晚", "油烟很大"),
        ("油烟扰民", "噪音扰民", "污染空气"),
    ),
    ("event", "0301"): (
        ("施工扰民", "夜间施工", "工地噪音", "半夜施工"),
        ("凌晨还在打桩", "机器轰鸣", "深夜作业"),
        ("严重影响休息", "老人孩子睡不着"),
    ),
    ("event", "0302"): (
        ("工地扬尘", "施工扬尘", "土方未覆盖"),
        ("尘土飞扬", "黄土裸露", "没有洒水降尘"),
        ("空气很差", "影响周边居民"),
    ),
    ("event", "0508"): (
        ("商业噪音", "商铺大声放音乐", "门店用喇叭揽客"),
        ("音响开得很大", "循环播放广告"),
        ("噪音扰民", "影响休息"),
    ),
    ("event", "0111"): (
        ("道路积水", "路面积水", "下雨后积水严重"),
        ("积水没过脚踝", "车辆无法通行", "排水不畅"),
        ("影响出行", "存在安全隐患"),
    ),
    ("event", "0306"): (
        ("道路破损", "路面坑洼", "路面塌陷破损", "人行道砖松动"),
        ("出现大坑", "多处破损"),
        ("容易绊倒行人", "车辆颠簸", "存在安全隐患"),
    ),
    ("event", "0404"): (
        ("下水道堵塞", "污水外溢", "下水道返水"),
        ("污水流到路面", "臭味很大"),
        ("影响通行", "气味难闻"),
    ),
    ("event", "0141"): (
        ("油烟污染", "餐馆油烟", "油烟直排"),
        ("没有安装净化设备", "油烟熏到楼上"),
        ("无法开窗", "影响居民生活"),
    ),
    ("component", "0118"): (
        ("路灯不亮", "路灯损坏", "路灯闪烁"),
        ("晚上一片漆黑", "好几盏都不亮", "灯杆倾斜"),
        ("夜间出行不安全", "存在安全隐患"),
    ),
    ("component", "0305"): (
        ("垃圾箱破损", "果皮箱损坏", "垃圾箱满溢"),
        ("箱体破裂", "盖子丢了", "垃圾溢出"),
        ("影响市容", "散发异味"),
    ),
    ("component", "0211"): (
        ("交通护栏损坏", "护栏倾倒", "隔离护栏缺失"),
        ("被车撞倒", "歪在路中间"),
        ("存在安全隐患", "影响通行"),
    ),
}

_COVER_WORDS = (
    ("缺失", "破损", "移位", "松动", "塌陷"),
    ("井口敞开", "车压过去有异响", "盖板断裂", "下陷明显"),
    ("行人容易掉下去", "存在严重安全隐患", "车辆经过危险"),
)
_FACILITY_WORDS = (
    ("损坏", "破损", "缺失", "倾斜", "故障"),
    ("无人维修", "有明显损坏", "部件脱落"),
    ("影响使用", "存在安全隐患", "影响市容"),
)
_EVENT_WORDS = (
    ("问题", "情况", "现象"),
    ("反复出现", "持续存在", "比较严重"),
    ("影响居民生活", "影响市容环境", "群众意见较大"),
)


def words_for(kind: str, minor_code: str, name: str) -> tuple[tuple[str, ...], ...]:
    """(what is wrong, details, impact) for a class; generic words carry the class name."""
    specific = CLASS_WORDS.get((kind, minor_code))
    if specific is not None:
        return specific
    # Strip the catalogue's parentheses so the text reads like speech.
    short = name.split("（")[0]
    if kind == "component":
        base = _COVER_WORDS if "井盖" in name or "箅子" in name else _FACILITY_WORDS
        return (tuple(short + w for w in base[0]), base[1], base[2])
    what = (*(short + w for w in _EVENT_WORDS[0]), short)
    return (what, _EVENT_WORDS[1], _EVENT_WORDS[2])


def place_text(rng: random.Random, street_name: str | None, poi: str | None) -> str:
    road = rng.choice(ROADS)
    number = rng.randint(1, 240)
    spot = poi or rng.choice(PLACES[rng.choice(tuple(PLACES))])
    prefix = street_name or ""
    pattern = rng.randrange(3)
    if pattern == 0:
        return f"{prefix}{road}{number}号{spot}附近"
    if pattern == 1:
        return f"{prefix}{road}与{rng.choice(ROADS)}交叉口"
    return f"{prefix}{spot}门口"


def describe(
    rng: random.Random,
    *,
    kind: str,
    minor_code: str,
    name: str,
    source: str,
    place: str,
) -> str:
    """A report's or call's text for a class at a place, phrased for its source."""
    what, details, impacts = words_for(kind, minor_code, name)
    problem = rng.choice(what)
    detail = rng.choice(details)
    impact = rng.choice(impacts)
    if source == "hotline":
        when = rng.choice(TIMES)
        forms = (
            f"{rng.choice(OPENERS)}{place}{when}{problem}，{detail}，{impact}，{rng.choice(ASKS)}",
            f"{rng.choice(OPENERS)}{when}在{place}，{problem}，{detail}。{rng.choice(ASKS)}",
            f"{rng.choice(OPENERS)}{place}{problem}，{impact}。{rng.choice(ASKS)}",
        )
        return rng.choice(forms)
    if source == "sensor":
        return f"物联感知告警：{place}{problem}，{detail}。"
    if source == "public":
        return f"{place}{problem}，{detail}，{impact}。"
    return f"{place}发现{problem}，{detail}。{rng.choice(INSPECTOR_TAILS)}".strip()


CONSULTATION_TOPICS = (
    ("居住证办理需要什么材料", "居住证"), ("社保卡丢失如何补办", "社保"),
    ("小区停车收费标准", "停车"), ("垃圾分类投放时间", "垃圾分类"),
    ("供暖开始时间", "供暖"), ("公积金提取流程", "公积金"),
    ("老年卡怎么办理", "老年卡"), ("新生儿落户流程", "户籍"),
    ("大件垃圾如何预约清运", "垃圾清运"), ("占道施工审批咨询", "施工审批"),
)  # fmt: skip


def consultation(rng: random.Random) -> tuple[str, str]:
    """A consultation's text and the answer given from the knowledge base."""
    question, topic = rng.choice(CONSULTATION_TOPICS)
    text = f"{rng.choice(OPENERS)}咨询{question}。"
    return text, f"已按知识库“{topic}”条目答复来电人。"


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国"


def person(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    return rng.choice(SURNAMES) + given


def phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
