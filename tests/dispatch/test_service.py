"""Training from closed cases on both database backends, and suggesting from the stored models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cityops.auth.actor import SYSTEM
from cityops.auth.service import create_org_unit, ensure_district
from cityops.cases.models import Case
from cityops.dispatch.service import (
    current_model,
    model_path,
    parse_class_label,
    suggest,
    suggest_dispatch,
    train_from_cases,
)

from .conftest import make_corpus

#: Synthetic label → (kind, minor code, class name, department code).
CLASSES = {
    "市政设施": ("component", "0101", "井盖等市政设施", "road"),
    "环境卫生": ("event", "0102", "暴露垃圾", "sanitation"),
    "街面秩序": ("event", "0201", "无照经营游商", "enforcement"),
    "噪声扰民": ("event", "0501", "施工噪声", "enforcement"),
}


def _case(n: int, text: str, kind: str, code: str, name: str, dept: int | None, status: str):
    closed = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=n)
    return Case(
        district_code="110106",
        number=f"11010620250301{n:06d}",
        source="inspector",
        kind=kind,
        major_code=code[:2],
        minor_code=code,
        class_name=name,
        catalog_version="test",
        description=text,
        lon=116.28,
        lat=39.86,
        status=status,
        department_id=dept,
        closed_at=closed if status == "closed" else None,
    )


@pytest.fixture
def closed_cases(session) -> dict[str, int]:
    """48 closed cases over 4 classes and 3 departments, plus open ones that must be ignored."""
    ensure_district(session, code="110106", name="丰台区")
    departments = {
        code: create_org_unit(
            session, actor=SYSTEM, district_code="110106", kind="department", code=code, name=name
        ).id
        for code, name in (
            ("road", "区市政局"),
            ("sanitation", "区环卫中心"),
            ("enforcement", "区城管执法局"),
        )
    }
    texts, labels = make_corpus(per_label=12, seed=11)
    for n, (text, label) in enumerate(zip(texts, labels, strict=True)):
        kind, code, name, dept = CLASSES[label]
        session.add(_case(n, text, kind, code, name, departments[dept], "closed"))
    # Open cases and one without a department: not evidence of where a case belongs.
    session.add(
        _case(900, "井盖破损", "event", "9999", "未结案", departments["road"], "dispatched")
    )
    session.add(_case(901, "井盖破损", "event", "9998", "无部门", None, "closed"))
    session.commit()
    return departments


def test_train_from_closed_cases_and_suggest(session, settings, closed_cases, backend):
    data_dir: Path = settings.data_dir
    results = train_from_cases(session=session, data_dir=data_dir)
    by_target = {r.target: r for r in results}
    # The class without a department has a single case: left out, and said so.
    assert by_target["minor_class"].cases == 48 and by_target["minor_class"].classes == 4
    assert by_target["minor_class"].dropped == {"event:9998": 1}
    assert by_target["department"].cases == 48 and by_target["department"].classes == 3
    assert model_path(data_dir, "minor_class").exists()

    model = current_model(data_dir, "minor_class")
    assert model is not None
    assert "event:9999" not in model.classes  # open cases never train the model
    assert model.meta["names"]["component:0101"] == "井盖等市政设施"

    best = suggest(model, "朝阳路的井盖松动了", k=3)
    assert parse_class_label(best[0].label) == ("component", "0101")
    assert best[0].top_features
    # Given a session, the model under its settings' data dir is used.
    assert suggest(session, "朝阳路的井盖松动了", k=3) == best
    departments = suggest(session, "工地夜间施工噪音很大", target="department")
    assert departments[0].label == str(closed_cases["enforcement"])

    both = suggest_dispatch(data_dir=data_dir, text="垃圾站满溢发臭", k=2)
    assert both.message is None and both.trained_at is not None
    assert [len(both.classes), len(both.departments)] == [2, 2]
    assert both.classes[0].label == "event:0102"
    assert both.departments[0].label == str(closed_cases["sanitation"])


def test_without_closed_cases_nothing_is_trained(session, settings, backend):
    results = train_from_cases(session=session, data_dir=settings.data_dir)
    assert all(r.path is None and r.skipped for r in results)
    assert suggest(session, "井盖破损") == []
    found = suggest_dispatch(data_dir=settings.data_dir, text="井盖破损")
    assert found.classes == [] and found.departments == []
    assert found.message is not None and "cityops dispatch train" in found.message


def test_suggest_over_http(client, make_user, login, session, settings, closed_cases):
    url = "/api/v1/dispatch/suggest"
    headers = login(make_user("operator"))
    assert client.post(url, json={"text": "井盖破损"}).status_code == 401

    empty = client.post(url, json={"text": "井盖破损"}, headers=headers)
    assert empty.status_code == 200
    assert empty.json()["classes"] == [] and "dispatch train" in empty.json()["message"]

    train_from_cases(session=session, data_dir=settings.data_dir)
    answer = client.post(url, json={"text": "人行道砖破损", "k": 2}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["message"] is None
    assert body["classes"][0] | {"confidence": 0, "top_features": []} == {
        "kind": "component",
        "minor_code": "0101",
        "class_name": "井盖等市政设施",
        "confidence": 0,
        "top_features": [],
    }
    assert body["departments"][0]["name"] == "区市政局"
    assert len(body["departments"]) == 2
    assert client.post(url, json={"text": ""}, headers=headers).status_code == 422
