"""An explainable classifier for Chinese free text (hotline calls, citizens' reports).

Each document is a body and an optional title (a subject line). Features are TF-IDF weights of
character 1–2-grams (sublinear tf), one vector space per field so a subject line counts on its
own; optionally jieba word unigrams. A linear SVM with balanced class weights decides; sigmoid
calibration (cross-fitted) turns its scores into probabilities. Every suggestion is explained by
the n-grams whose weight × coefficient pushed it most. Why these choices: ``docs/dispatch.md``
(measured on 396 real government messages).
"""

from __future__ import annotations

import os
import pickle
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cityops.errors import CityopsError, InvalidInput

#: A document: the body alone, or ``(title, body)``.
Doc = str | tuple[str, str]

#: Bumped whenever the pickled layout of :class:`TextClassifier` changes.
MODEL_FORMAT = 1

#: The inner grid searched when ``ClassifierConfig.tune`` is set (never on evaluation folds).
TUNE_GRID: dict[str, tuple[Any, ...]] = {"c": (1.0, 0.3, 3.0), "char_ngram_max": (2, 3)}

_SPACE = re.compile(r"\s+")


class ModelError(CityopsError):
    """A stored model is missing, unreadable or from an incompatible version."""

    status_code = 409


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters; the defaults are the configuration measured in docs/dispatch.md."""

    #: Longest character n-gram; 2 beat 3 on short, noisy messages.
    char_ngram_max: int = 2
    #: Drop n-grams seen in fewer documents (only applied from ``min_df_from_docs`` documents up).
    min_df: int = 2
    min_df_from_docs: int = 50
    #: Inverse regularisation strength of the linear SVM.
    c: float = 1.0
    #: Add jieba word unigrams (measured: no gain on gov-messages, so off by default).
    words: bool = False
    #: Sigmoid-calibrated probabilities (needs ≥ 2 examples per class; else softmax of scores).
    calibrate: bool = True
    #: Choose ``c`` and ``char_ngram_max`` by an inner cross-validation on the training data.
    tune: bool = False
    seed: int = 0


@dataclass(frozen=True)
class Suggestion:
    """One suggested label with its probability and the n-grams that argued for it."""

    label: str
    confidence: float
    top_features: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, whitespace collapsed: variants count as one."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text or "")).strip().lower()


def as_fields(doc: Doc) -> tuple[str, str]:
    """``(title, body)`` of a document, both normalized."""
    if isinstance(doc, str):
        return "", normalize(doc)
    title, body = doc
    return normalize(title), normalize(body)


# Module-level (not lambdas) so fitted vectorizers can be pickled.
def _title(fields: tuple[str, str]) -> str:
    return fields[0]


def _body(fields: tuple[str, str]) -> str:
    return fields[1]


def _words(text: str) -> list[str]:
    """jieba words without whitespace or punctuation-only tokens."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary banner is noise on a CLI
    return [w for w in jieba.lcut(text) if any(ch.isalnum() for ch in w)]


class TextClassifier:
    """Fit on labelled documents, then suggest the top-k labels with explanations."""

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        self.config = config or ClassifierConfig()
        #: What ``fit`` actually used (differs from config when tuned or the data is tiny).
        self.chosen: dict[str, Any] = {}
        #: Free-form facts saved with the model (target, number of cases, time of training).
        self.meta: dict[str, Any] = {}
        self._union: Any = None
        self._clf: Any = None
        self._names: NDArray[np.str_] = np.array([], dtype=str)
        self._coef: NDArray[np.float64] = np.zeros((0, 0))
        self._classes: list[str] = []

    # -- training ---------------------------------------------------------------------------

    def fit(
        self,
        docs: Sequence[Doc],
        labels: Sequence[str],
        *,
        prior: Sequence[tuple[Doc, str]] = (),
    ) -> TextClassifier:
        """Train on ``docs``; ``prior`` adds background examples (e.g. taxonomy terms)."""
        if len(docs) != len(labels):
            raise InvalidInput(f"{len(docs)} documents but {len(labels)} labels")
        fields = [as_fields(d) for d in docs]
        ys = [str(y) for y in labels]
        if len(set(ys)) < 2:
            raise InvalidInput("training needs at least two different labels")
        prior_fields = [as_fields(d) for d, _ in prior]
        prior_ys = [str(y) for _, y in prior]
        params: dict[str, Any] = {"c": self.config.c, "char_ngram_max": self.config.char_ngram_max}
        if self.config.tune:
            params = self._tune(fields, ys, prior_fields, prior_ys)
        all_fields = fields + prior_fields
        all_ys = ys + prior_ys
        self._union, self._clf, self.chosen = self._build_and_fit(all_fields, all_ys, **params)
        self._classes = [str(c) for c in self._clf.classes_]
        self._names = self._feature_names()
        self._coef = self._coefficients()
        return self

    def _build_and_fit(
        self,
        fields: list[tuple[str, str]],
        ys: list[str],
        *,
        c: float,
        char_ngram_max: int,
        calibrate: bool | None = None,
    ) -> tuple[Any, Any, dict[str, Any]]:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import StratifiedKFold
        from sklearn.pipeline import FeatureUnion
        from sklearn.svm import LinearSVC

        cfg = self.config
        # Pruning rare n-grams helps on a corpus, but empties the vocabulary of a tiny one.
        min_df = cfg.min_df if len(fields) >= cfg.min_df_from_docs else 1
        parts = []
        for name, pick in (("title", _title), ("body", _body)):
            if not any(pick(f) for f in fields):
                continue  # e.g. cases have no subject line: no empty vector space
            parts.append((f"{name}_char", _char_vectorizer(pick, char_ngram_max, min_df)))
            if cfg.words:
                parts.append((f"{name}_word", _word_vectorizer(pick, min_df)))
        if not parts:
            raise InvalidInput("every document is empty")
        union = FeatureUnion(parts)
        matrix = union.fit_transform(fields)

        svm = LinearSVC(C=c, class_weight="balanced", random_state=cfg.seed)
        smallest = min(ys.count(y) for y in set(ys))
        folds = min(3, smallest)
        use_calibration = cfg.calibrate if calibrate is None else calibrate
        if use_calibration and folds >= 2:
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
            clf: Any = CalibratedClassifierCV(svm, method="sigmoid", cv=cv)
        else:
            use_calibration = False
            clf = svm
        clf.fit(matrix, ys)
        chosen = {
            "c": c,
            "char_ngram_max": char_ngram_max,
            "min_df": min_df,
            "calibrated": use_calibration,
            "fields": [name for name, _ in parts],
        }
        return union, clf, chosen

    def _tune(
        self,
        fields: list[tuple[str, str]],
        ys: list[str],
        prior_fields: list[tuple[str, str]],
        prior_ys: list[str],
    ) -> dict[str, Any]:
        """Pick grid values by inner CV on the training documents only (prior added to fits)."""
        from sklearn.model_selection import StratifiedKFold

        default = {"c": self.config.c, "char_ngram_max": self.config.char_ngram_max}
        smallest = min(ys.count(y) for y in set(ys))
        folds = min(3, smallest)
        if folds < 2:
            return default
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.config.seed)
        splits = list(splitter.split(np.zeros(len(ys)), ys))
        best: tuple[float, dict[str, Any]] | None = None
        for c in TUNE_GRID["c"]:
            for n in TUNE_GRID["char_ngram_max"]:
                hits = 0
                for train, test in splits:
                    union, clf, _ = self._build_and_fit(
                        [fields[i] for i in train] + prior_fields,
                        [ys[i] for i in train] + prior_ys,
                        c=c,
                        char_ngram_max=n,
                        calibrate=False,  # ranking configurations needs no probabilities
                    )
                    pred = clf.predict(union.transform([fields[i] for i in test]))
                    hits += sum(p == ys[i] for p, i in zip(pred, test, strict=True))
                score = hits / len(ys)
                # Strictly better only: ties keep the earlier (default-first) grid point.
                if best is None or score > best[0]:
                    best = (score, {"c": c, "char_ngram_max": n})
        assert best is not None
        return best[1]

    # -- prediction --------------------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        """The labels the model knows, in the column order of ``predict_proba``."""
        return list(self._classes)

    @property
    def is_fitted(self) -> bool:
        return self._clf is not None

    def _matrix(self, docs: Iterable[Doc]) -> Any:
        if not self.is_fitted:
            raise ModelError("the classifier has not been trained")
        return self._union.transform([as_fields(d) for d in docs])

    def predict_proba(self, docs: Sequence[Doc]) -> NDArray[np.float64]:
        """Probabilities, one row per document, columns in ``classes`` order."""
        matrix = self._matrix(docs)
        if hasattr(self._clf, "predict_proba"):
            return np.asarray(self._clf.predict_proba(matrix), dtype=float)
        scores = np.asarray(self._clf.decision_function(matrix), dtype=float)
        if scores.ndim == 1:  # binary: one score for classes_[1]
            scores = np.column_stack([-scores, scores])
        # Uncalibrated fallback (a class with a single example): softmax of SVM margins.
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=float)

    def predict(self, docs: Sequence[Doc]) -> list[str]:
        """The most probable label of each document."""
        proba = self.predict_proba(docs)
        return [self._classes[i] for i in proba.argmax(axis=1)]

    def top_k(self, doc: Doc, k: int = 3, *, n_features: int = 5) -> list[Suggestion]:
        """The ``k`` most probable labels for one document, best first, each explained."""
        proba = self.predict_proba([doc])[0]
        order = np.argsort(-proba, kind="stable")[: max(k, 0)]
        matrix = self._matrix([doc])
        return [
            Suggestion(
                label=self._classes[i],
                confidence=round(float(proba[i]), 4),
                top_features=self._explain_row(matrix, int(i), n_features),
            )
            for i in order
        ]

    def explain(self, doc: Doc, label: str, n: int = 5) -> tuple[str, ...]:
        """The n-grams of ``doc`` that pushed hardest towards ``label``."""
        if label not in self._classes:
            raise InvalidInput(f"unknown label {label!r}", field="label")
        return self._explain_row(self._matrix([doc]), self._classes.index(label), n)

    def _explain_row(self, matrix: Any, class_index: int, n: int) -> tuple[str, ...]:
        row = matrix.tocsr()[0]
        if row.nnz == 0 or n <= 0:
            return ()
        contrib = row.data * self._coef[class_index, row.indices]
        # The same n-gram in title and body (or as char and word) is one reason, not two.
        totals: dict[str, float] = {}
        for name, value in zip(self._names[row.indices], contrib, strict=True):
            totals[str(name)] = totals.get(str(name), 0.0) + float(value)
        ranked = sorted(
            ((v, k) for k, v in totals.items() if v > 0 and k.strip()), key=lambda t: (-t[0], t[1])
        )
        # Words read better than single characters: show multi-character n-grams first (each
        # group still by contribution) and let single characters fill the remaining places.
        words = [k for _, k in ranked if len(k.strip()) > 1]
        chars = [k for _, k in ranked if len(k.strip()) == 1]
        return tuple((words + chars)[:n])

    def _feature_names(self) -> NDArray[np.str_]:
        names: list[str] = []
        for _name, vectorizer in self._union.transformer_list:
            names.extend(str(t) for t in vectorizer.get_feature_names_out())
        return np.array(names, dtype=str)

    def _coefficients(self) -> NDArray[np.float64]:
        """Class × feature coefficients (averaged over the calibration folds' SVMs)."""
        if hasattr(self._clf, "calibrated_classifiers_"):
            coefs = [cc.estimator.coef_ for cc in self._clf.calibrated_classifiers_]
            coef = np.mean(np.stack(coefs), axis=0)
        else:
            coef = np.asarray(self._clf.coef_, dtype=float)
        if coef.shape[0] == 1:  # binary SVM: positive scores mean classes_[1]
            coef = np.vstack([-coef[0], coef[0]])
        return np.asarray(coef, dtype=float)


def _char_vectorizer(pick: Any, ngram_max: int, min_df: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, ngram_max),
        preprocessor=pick,
        sublinear_tf=True,  # a word said ten times is not ten times the evidence
        min_df=min_df,
        dtype=np.float64,
    )


def _word_vectorizer(pick: Any, min_df: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        tokenizer=_words,
        token_pattern=None,
        lowercase=False,
        preprocessor=pick,
        sublinear_tf=True,
        min_df=min_df,
    )


# -- persistence -----------------------------------------------------------------------------


def _sklearn_series() -> str:
    import sklearn

    return ".".join(str(sklearn.__version__).split(".")[:2])


def save_model(classifier: TextClassifier, path: Path) -> None:
    """Write the model atomically (a server reading it never sees half a file)."""
    if not classifier.is_fitted:
        raise ModelError("refusing to save a classifier that has not been trained")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": MODEL_FORMAT,
        "sklearn": _sklearn_series(),
        "config": asdict(classifier.config),
        "classifier": classifier,
    }
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        pickle.dump(payload, out, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def load_model(path: Path) -> TextClassifier:
    """Read a model saved by :func:`save_model`; refuse other formats or scikit-learn series.

    Models are pickles: only load files from the installation's own data dir.
    """
    if not path.exists():
        raise ModelError(f"no model at {path}: train one with 'cityops dispatch train'")
    try:
        with path.open("rb") as stream:
            payload = pickle.load(stream)
    except Exception as exc:  # a truncated or foreign file
        raise ModelError(f"cannot read the model at {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        raise ModelError(
            f"model at {path} has format {found!r}, this version reads {MODEL_FORMAT}: "
            "retrain with 'cityops dispatch train'"
        )
    if payload.get("sklearn") != _sklearn_series():
        # Pickled scikit-learn estimators are only reliable within one release series.
        raise ModelError(
            f"model at {path} was trained with scikit-learn {payload.get('sklearn')}, "
            f"this is {_sklearn_series()}: retrain with 'cityops dispatch train'"
        )
    classifier = payload["classifier"]
    if not isinstance(classifier, TextClassifier):
        raise ModelError(f"model at {path} does not hold a text classifier")
    return classifier


def taxonomy_prior(rows: Iterable[Sequence[str]], labels: Iterable[str]) -> list[tuple[Doc, str]]:
    """One pseudo-document per (label, second level): its name as title, its leaves as body.

    ``rows`` are ``(first, second, third, ...)`` levels; rows whose first level is not among
    ``labels`` are skipped, and "其他" (other) leaves carry no meaning.
    """
    wanted = set(labels)
    groups: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        if len(row) < 2 or row[0] not in wanted:
            continue
        leaves = groups.setdefault((row[0], row[1]), [])
        leaves.extend(t for t in row[2:] if t and t != "其他")
    return [
        ((second, " ".join([second, *leaves])), first) for (first, second), leaves in groups.items()
    ]
