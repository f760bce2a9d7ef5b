"""A small labelled Chinese corpus built from templates × vocabulary, seeded (no /work/shared)."""

from __future__ import annotations

import random

import pytest

#: label → (objects, problems): words that only this label uses.
VOCABULARY: dict[str, tuple[list[str], list[str]]] = {
    "市政设施": (
        ["井盖", "路灯", "护栏", "消防栓", "人行道砖"],
        ["破损", "缺失", "松动", "倾斜不亮"],
    ),
    "环境卫生": (
        ["垃圾桶", "绿化带", "公厕", "垃圾站"],
        ["满溢发臭", "有暴露垃圾", "污水横流", "无人清扫"],
    ),
    "街面秩序": (
        ["流动摊贩", "占道经营的商铺", "露天烧烤", "散发小广告的人"],
        ["堵塞通行", "扰民到深夜", "屡禁不止", "油烟很大"],
    ),
    "噪声扰民": (
        ["工地夜间施工", "广场舞音响", "商铺高音喇叭", "装修电钻"],
        ["噪音很大", "吵得睡不着", "声音刺耳", "影响休息"],
    ),
}
PLACES = ["朝阳路", "幸福小区", "新华街", "东风社区", "人民公园", "二号地铁站", "第三中学"]
TEMPLATES = [
    "{place}附近{obj}{problem}，请尽快处理。",
    "市民反映：{place}的{obj}{problem}，已经好几天了。",
    "我住在{place}，{obj}{problem}，希望有关部门管一管。",
    "{obj}{problem}（{place}），多次反映没人管。",
]


def make_corpus(per_label: int = 24, seed: int = 7) -> tuple[list[str], list[str]]:
    """``per_label`` texts per label; shared places and templates are the noise."""
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[str] = []
    for label, (objects, problems) in VOCABULARY.items():
        for _ in range(per_label):
            texts.append(
                rng.choice(TEMPLATES).format(
                    place=rng.choice(PLACES), obj=rng.choice(objects), problem=rng.choice(problems)
                )
            )
            labels.append(label)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


@pytest.fixture(scope="session")
def corpus() -> tuple[list[str], list[str]]:
    """96 synthetic reports in 4 labels."""
    return make_corpus()


@pytest.fixture(scope="session")
def fitted(corpus: tuple[list[str], list[str]]):  # type: ignore[no-untyped-def]
    """A classifier trained on the synthetic corpus (shared: fitting is the slow part)."""
    from cityops.dispatch.textclf import TextClassifier

    texts, labels = corpus
    return TextClassifier().fit(texts, labels)
