"""The classifier: top-k, confidences, explanations, save/load and its version checks."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from cityops.dispatch.textclf import (
    ClassifierConfig,
    ModelError,
    TextClassifier,
    as_fields,
    load_model,
    save_model,
    taxonomy_prior,
)
from cityops.errors import InvalidInput

from .conftest import VOCABULARY


def test_top_k_is_sorted_calibrated_and_right(fitted):
    suggestions = fitted.top_k("幸福小区门口的井盖破损了，很危险", k=3)
    assert suggestions[0].label == "市政设施"
    confidences = [s.confidence for s in suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert len({s.label for s in suggestions}) == 3
    assert fitted.predict_proba(["井盖破损"]).sum() == pytest.approx(1.0)


def test_k_beyond_the_number_of_labels_gives_every_label(fitted):
    assert len(fitted.top_k("路灯不亮", k=10)) == len(VOCABULARY)
    assert fitted.top_k("路灯不亮", k=0) == []


def test_explanations_name_the_words_of_the_winning_label(fitted):
    best = fitted.top_k("新华街垃圾桶满溢发臭，没人管", k=1)[0]
    assert best.label == "环境卫生"
    assert best.top_features, "a suggestion must say why"
    # The reasons are n-grams of the text, drawn from that label's own vocabulary.
    label_words = "".join(VOCABULARY["环境卫生"][0] + VOCABULARY["环境卫生"][1])
    assert any(f in label_words for f in best.top_features if len(f) > 1)
    normalized = as_fields("新华街垃圾桶满溢发臭，没人管")[1]  # NFKC: "，" became ","
    assert all(f in normalized for f in best.top_features)
    # Multi-character n-grams are shown before single characters.
    lengths = [len(f) for f in best.top_features]
    assert lengths == sorted(lengths, key=lambda n: n == 1)


def test_explain_a_given_label_and_refuse_an_unknown_one(fitted):
    assert "噪音" in "".join(fitted.explain("工地夜间施工噪音很大", "噪声扰民", n=5))
    with pytest.raises(InvalidInput):
        fitted.explain("噪音", "no-such-label")


def test_text_without_known_ngrams_gets_suggestions_without_reasons(fitted):
    suggestions = fitted.top_k("ＸＹＺ", k=2)
    assert len(suggestions) == 2
    assert all(s.top_features == () for s in suggestions)


def test_normalisation_folds_full_width_and_spaces():
    assert as_fields("ＡＢ  １２\n井盖") == ("", "ab 12 井盖")
    assert as_fields(("标题 ", " 正文")) == ("标题", "正文")


def test_title_field_gets_its_own_vector_space(corpus):
    texts, labels = corpus
    docs = [(t[:6], t) for t in texts]
    model = TextClassifier().fit(docs, labels)
    assert model.chosen["fields"] == ["title_char", "body_char"]
    assert model.predict([("井盖破损", "朝阳路")]) == ["市政设施"]
    # A body-only corpus has no empty title space.
    assert TextClassifier().fit(texts, labels).chosen["fields"] == ["body_char"]


def test_a_class_with_one_example_falls_back_to_softmax(corpus):
    texts, labels = corpus
    model = TextClassifier().fit([*texts, "自来水管爆裂"], [*labels, "供水"])
    assert model.chosen["calibrated"] is False
    proba = model.predict_proba(["自来水管爆裂"])
    assert proba.sum() == pytest.approx(1.0)
    assert "供水" in model.classes


def test_binary_problems_explain_both_labels(corpus):
    texts, labels = corpus
    keep = [i for i, y in enumerate(labels) if y in ("市政设施", "噪声扰民")]
    model = TextClassifier().fit([texts[i] for i in keep], [labels[i] for i in keep])
    noise, facility = model.top_k("装修电钻声音刺耳", k=2), model.top_k("护栏松动", k=2)
    assert noise[0].label == "噪声扰民" and noise[0].top_features
    assert facility[0].label == "市政设施" and facility[0].top_features


def test_training_needs_two_labels_and_matching_lengths():
    with pytest.raises(InvalidInput, match="two different labels"):
        TextClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(InvalidInput, match="labels"):
        TextClassifier().fit(["a", "b"], ["x"])


def test_word_features_and_tuning_run(corpus):
    texts, labels = corpus
    model = TextClassifier(ClassifierConfig(words=True, tune=True)).fit(texts, labels)
    assert any(name.endswith("_word") for name in model.chosen["fields"])
    assert model.chosen["c"] in (0.3, 1.0, 3.0)
    assert model.predict(["广场舞音响吵得睡不着"]) == ["噪声扰民"]


def test_taxonomy_prior_makes_one_example_per_second_level():
    rows = [
        ["城乡建设", "安全生产", "安全隐患"],
        ["城乡建设", "安全生产", "其他"],
        ["城乡建设", "城乡规划", "违章建筑"],
        ["国土资源", "土地征收", "征地补偿"],
    ]
    prior = taxonomy_prior(rows, {"城乡建设"})
    assert prior == [
        (("安全生产", "安全生产 安全隐患"), "城乡建设"),
        (("城乡规划", "城乡规划 违章建筑"), "城乡建设"),
    ]


def test_save_and_load_round_trip(fitted, tmp_path: Path):
    path = tmp_path / "models" / "m.pickle"
    fitted.meta = {"target": "test"}
    save_model(fitted, path)
    loaded = load_model(path)
    text = ["人民公园露天烧烤油烟很大"]
    np.testing.assert_allclose(loaded.predict_proba(text), fitted.predict_proba(text))
    assert loaded.top_k(text[0]) == fitted.top_k(text[0])
    assert loaded.meta == {"target": "test"}
    assert not path.with_name("m.pickle.tmp").exists()


def test_load_refuses_missing_foreign_and_outdated_models(fitted, tmp_path: Path):
    with pytest.raises(ModelError, match="dispatch train"):
        load_model(tmp_path / "none.pickle")
    garbage = tmp_path / "garbage.pickle"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot read"):
        load_model(garbage)
    path = tmp_path / "m.pickle"
    save_model(fitted, path)
    payload = pickle.loads(path.read_bytes())
    for key, value, message in (("format", 0, "format"), ("sklearn", "0.1", "scikit-learn 0.1")):
        path.write_bytes(pickle.dumps({**payload, key: value}))
        with pytest.raises(ModelError, match=message):
            load_model(path)


def test_an_untrained_model_is_neither_saved_nor_used(tmp_path: Path):
    with pytest.raises(ModelError):
        save_model(TextClassifier(), tmp_path / "m.pickle")
    with pytest.raises(ModelError):
        TextClassifier().predict(["井盖"])
