"""The self-evaluation figures and both workbooks, on the data set of ``conftest.py``.

Self-evaluation for September 2025:
  case volume: reported in September, merged excluded → c1 c2 c3 c4 c6 c7 c9 = 7;
  接件率: decided at intake / reported = 7 / 8 (c9 is still "reported") = 0.875;
  回复率: both hotline requests were replied to → 1.0;
  按时处置率: handled in September c1 (on time), c2 (late), c4, c6 (on time) → 3/4 = 0.75;
  满意率: 1 satisfied of 2 rated → 0.5; availability given as 0.9995.
  Scores (weight 10 each): volume 10×7/600000 → 0.0; 接件率 8.75; 回复率 10.0;
  按时处置率 10×0.75/0.9 = 8.33; availability 10 (above 0.999); 满意率 10×0.5/0.9 = 5.56
  → computed 42.64 of 60.
"""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook

from cityops.evaluation.export import (
    SELF_EVAL_HEADER,
    SELF_EVAL_HEADER_ROW,
    evaluation_workbook,
    self_evaluation_workbook,
    to_bytes,
)
from cityops.evaluation.indicators import evaluate, resolve_period
from cityops.evaluation.selfeval import metrics, self_evaluation

from .conftest import STREET_A, local


def period():
    return resolve_period("2025-09", as_of=local(2025, 10, 1))


def test_self_evaluation_metrics_and_scores(session, world):
    values = metrics(session, actor=world.lead, period=period(), availability=0.9995)
    assert values == {
        "case_volume": 7.0,
        "acceptance_rate": 0.875,
        "reply_rate": 1.0,
        "on_time_handling_rate": 0.75,
        "satisfaction_rate": 0.5,
        "availability": 0.9995,
    }
    table = self_evaluation(session, actor=world.lead, period=period(), availability=0.9995)
    scores = {line.level3: line.score for line in table.lines}
    assert scores["接件率"] == 8.75 and scores["按时处置率"] == 8.33
    assert scores["市民诉求满意率"] == 5.56 and scores["年度案卷数量"] == 0.0
    assert scores["平台长效稳定运行"] is None  # a qualitative row, left to the office
    assert (table.computed_score, table.computed_weight) == (42.64, 60.0)
    reasons = {line.level3: line.reason for line in table.lines}
    assert reasons["接件率"].startswith("未达年度目标") and reasons["回复率"] == ""
    without = self_evaluation(session, actor=world.lead, period=period())
    line = next(x for x in without.lines if x.level3.startswith("系统可用率"))
    assert line.actual is None and line.score is None and line.reason == "未提供监测数据"


def test_self_evaluation_workbook_holds_the_values(session, world):
    table = self_evaluation(session, actor=world.lead, period=period(), availability=0.9995)
    book = load_workbook(BytesIO(to_bytes(self_evaluation_workbook(table))))
    sheet = book["绩效自评表"]
    assert sheet["A1"].value == "项目支出绩效自评表"
    header = [sheet.cell(row=SELF_EVAL_HEADER_ROW, column=c).value for c in range(1, 9)]
    assert header == SELF_EVAL_HEADER
    rows = {
        sheet.cell(row=r, column=3).value: [sheet.cell(row=r, column=c).value for c in range(1, 9)]
        for r in range(SELF_EVAL_HEADER_ROW + 1, SELF_EVAL_HEADER_ROW + 1 + len(table.lines))
    }
    assert rows["年度案卷数量"][:7] == [
        "产出指标",
        "数量指标",
        "年度案卷数量",
        "达到60万件",
        7,
        10,
        0,
    ]
    assert rows["接件率"][4:7] == [0.875, 10, 8.75]
    assert rows["回复率"][4] == 1 and rows["市民诉求满意率"][4:7] == [0.5, 10, 5.56]
    assert rows["按时处置率"][0] == "产出指标" and rows["按时处置率"][6] == 8.33
    total_row = SELF_EVAL_HEADER_ROW + 1 + len(table.lines)
    assert sheet.cell(row=total_row, column=1).value == "总分"
    assert str(sheet.cell(row=total_row, column=7).value).startswith("=SUM(G")
    assert "42.64" in sheet.cell(row=total_row + 1, column=1).value
    assert sheet["A4"].value == "年初预算数（万元）" and sheet["G4"].value == "执行率"


def test_evaluation_workbook_has_a_sheet_per_subject_with_computed_values(session, world):
    p = period()
    results = [
        evaluate(session, actor=world.lead, subject=s, period=p)
        for s in ("department", "street", "inspector")
    ]
    book = load_workbook(BytesIO(to_bytes(evaluation_workbook(results))))
    assert book.sheetnames == ["部门评价", "街道评价", "监督员评价", "权重说明"]
    street = book["街道评价"]
    header = [c.value for c in street[3]]
    assert header[:4] == ["排名", "名称", "编码", "发现问题数"]
    assert "结案率" in header and "问题密度(件/km²)" in header and header[-1] == "综合得分"
    first = {header[i]: cell.value for i, cell in enumerate(street[4])}
    assert first["排名"] == 1 and first["编码"] == STREET_A and first["名称"] == "甲街道"
    assert first["立案数"] == 2 and first["结案率"] == 1.0 and first["按期结案率"] == 0.5
    assert first["综合得分"] == 70.0
    assert street[4][header.index("结案率")].number_format == "0.00%"
    last = {header[i]: cell.value for i, cell in enumerate(street[6])}
    assert last["名称"] == "合计" and last["发现问题数"] == 8
    department = book["部门评价"]
    dheader = [c.value for c in department[3]]
    second = {dheader[i]: cell.value for i, cell in enumerate(department[5])}
    assert second["名称"] == "区水务局" and second["排名"] == 2
    assert second["应处置数"] == 4 and second["按时处置率"] == 0.5 and second["综合得分"] == 60.83
    weights = [[c.value for c in row] for row in book["权重说明"].iter_rows(min_row=2, max_row=4)]
    assert weights[0] == ["专业部门", "按时处置率", 0.5]
