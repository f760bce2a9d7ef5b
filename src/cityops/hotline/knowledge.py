"""The knowledge base (知识库): articles operators answer consultations from, and text search.

Search is portable SQL (``LIKE`` on SQLite and PostgreSQL, no full-text extension): the query
is cut into terms — words for Latin text, overlapping character pairs for Chinese, which has
no spaces — and each article scores title hits 3, keyword hits 2 and body hits 1 per term, so
an article matching more of the question, in more prominent places, comes first.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import ColumnElement, Integer, case, literal, select
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.errors import InvalidInput, NotFound
from cityops.hotline.models import KnowledgeArticle
from cityops.timeutil import utcnow

#: Beyond this many terms a question adds noise, not precision.
MAX_TERMS = 16
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[A-Za-z0-9]+")
#: Pairs too common in questions to tell articles apart.
_STOP_PAIRS = frozenset({"怎么", "如何", "什么", "哪里", "请问", "可以", "需要", "我想", "一下"})


def terms_of(query: str) -> list[str]:
    """The search terms of a query: Latin words (≥ 2 letters) and Chinese character pairs."""
    terms: list[str] = []
    for run in _CJK_RUN.findall(query):
        pairs = [run] if len(run) < 2 else [run[i : i + 2] for i in range(len(run) - 1)]
        terms += [p for p in pairs if p not in _STOP_PAIRS]
    terms += [w.lower() for w in _WORD.findall(query) if len(w) >= 2]
    unique = list(dict.fromkeys(terms))
    return unique[:MAX_TERMS]


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hit(column: Any, term: str, weight: int) -> ColumnElement[int]:
    return case((column.ilike(f"%{_escape(term)}%", escape="\\"), weight), else_=0)


@dataclass(frozen=True)
class Hit:
    article: KnowledgeArticle
    score: float


def search(
    session: Session, *, district_code: str, query: str, limit: int = 10, active_only: bool = True
) -> list[Hit]:
    """Articles matching ``query``, best first; empty when nothing matches."""
    if not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100", field="limit")
    terms = terms_of(query)
    if not terms:
        return []
    score: ColumnElement[Any] = literal(0, Integer)
    for term in terms:
        score = (
            score
            + _hit(KnowledgeArticle.title, term, 3)
            + _hit(KnowledgeArticle.keywords, term, 2)
            + _hit(KnowledgeArticle.body, term, 1)
        )
    scored = score.label("score")
    stmt = select(KnowledgeArticle, scored).where(KnowledgeArticle.district_code == district_code)
    if active_only:
        stmt = stmt.where(KnowledgeArticle.active.is_(True))
    stmt = stmt.where(score > 0).order_by(scored.desc(), KnowledgeArticle.id).limit(limit)
    # Normalised by the best possible score, so 1.0 means every term hit every field.
    best = 6 * len(terms)
    return [Hit(article, round(int(s) / best, 3)) for article, s in session.execute(stmt)]


def get_article(session: Session, *, district_code: str, article_id: int) -> KnowledgeArticle:
    article = session.get(KnowledgeArticle, article_id)
    if article is None or article.district_code != district_code:
        raise NotFound(f"no knowledge article with id {article_id}", field="kb_article_id")
    return article


def list_articles(
    session: Session, *, district_code: str, category: str | None = None, limit: int = 100
) -> Sequence[KnowledgeArticle]:
    stmt = select(KnowledgeArticle).where(KnowledgeArticle.district_code == district_code)
    if category:
        stmt = stmt.where(KnowledgeArticle.category == category)
    return session.scalars(stmt.order_by(KnowledgeArticle.id).limit(limit)).all()


def _title_taken(session: Session, district_code: str, title: str, but: int | None) -> bool:
    stmt = select(KnowledgeArticle.id).where(
        KnowledgeArticle.district_code == district_code, KnowledgeArticle.title == title
    )
    found = session.scalar(stmt)
    return found is not None and found != but


def create_article(
    session: Session,
    *,
    actor: Actor,
    title: str,
    body: str,
    keywords: str = "",
    category: str | None = None,
) -> KnowledgeArticle:
    """Add an article (audited); titles are unique within a district."""
    if _title_taken(session, actor.district_code, title, None):
        raise InvalidInput(f"an article titled {title!r} exists already", field="title")
    now = utcnow()
    article = KnowledgeArticle(
        district_code=actor.district_code,
        title=title,
        body=body,
        keywords=keywords,
        category=category,
        active=True,
        created_at=now,
        updated_at=now,
        updated_by_id=actor.id or None,
    )
    session.add(article)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hotline.kb.create",
        object_type="kb_article",
        object_id=article.id,
        detail={"title": title},
    )
    return article


def update_article(
    session: Session, *, actor: Actor, article_id: int, changes: dict[str, Any]
) -> KnowledgeArticle:
    """Change an article (audited); ``active=False`` retires it from search."""
    article = get_article(session, district_code=actor.district_code, article_id=article_id)
    allowed = {"title", "body", "keywords", "category", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    title = changes.get("title")
    if title and _title_taken(session, actor.district_code, title, article.id):
        raise InvalidInput(f"an article titled {title!r} exists already", field="title")
    for name, value in changes.items():
        setattr(article, name, value)
    article.updated_at = utcnow()
    article.updated_by_id = actor.id or None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hotline.kb.update",
        object_type="kb_article",
        object_id=article.id,
        detail={"fields": sorted(changes)},
    )
    return article


def _rows_of(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text)
        rows = data.get("articles") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInput("a YAML knowledge file is a list of articles", field="file")
        return rows
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    raise InvalidInput("give a .csv, .yaml or .yml file", field="file")


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int


def load_articles(session: Session, *, actor: Actor, path: Path) -> LoadResult:
    """Create or update (by title) every article of a CSV/YAML file; all rows or none."""
    rows = _rows_of(path)
    is_csv = path.suffix.lower() == ".csv"
    checked: list[dict[str, Any]] = []
    for index, row in enumerate(rows, start=1):
        # CSV rows are named by their line in the file (the header is line 1), as a
        # spreadsheet shows them; YAML entries by their position in the list.
        where = f"row {index + 1}" if is_csv else f"article {index}"
        title = str(row.get("title") or "").strip()
        body = str(row.get("body") or "").strip()
        if not title or not body:
            missing = "title" if not title else "body"
            raise InvalidInput(f"{where}: '{missing}' is empty", field=missing)
        if len(title) > 200:
            raise InvalidInput(f"{where}: title longer than 200 characters", field="title")
        keywords = row.get("keywords") or ""
        if isinstance(keywords, list):
            keywords = " ".join(str(k) for k in keywords)
        category = str(row.get("category") or "").strip() or None
        checked.append(
            {"title": title, "body": body, "keywords": str(keywords)[:500], "category": category}
        )
    created = updated = 0
    for values in checked:
        existing = session.scalar(
            select(KnowledgeArticle).where(
                KnowledgeArticle.district_code == actor.district_code,
                KnowledgeArticle.title == values["title"],
            )
        )
        if existing is None:
            create_article(session, actor=actor, **values)
            created += 1
        else:
            update_article(session, actor=actor, article_id=existing.id, changes=values)
            updated += 1
    return LoadResult(created=created, updated=updated)
