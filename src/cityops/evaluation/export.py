"""Excel workbooks as the offices exchange them (openpyxl), with Chinese headers:

* the monthly evaluation report: one sheet per subject type (rank, name, counts, rates,
  composite score), plus a sheet with the weights used;
* the project performance self-evaluation table (项目支出绩效自评表) in the seed layout.
"""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from cityops.evaluation.schemas import EvaluationRead, SelfEvaluationRead, SubjectRow
from cityops.timeutil import to_local

SHEET_TITLES = {"department": "部门评价", "street": "街道评价", "inspector": "监督员评价"}
SUBJECT_NAMES = {"department": "专业部门", "street": "街道", "inspector": "监督员"}
#: Rates shown as plain numbers, not percentages.
_NOT_PERCENT = frozenset({"density"})
_BOLD = Font(bold=True)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _span(result: EvaluationRead | SelfEvaluationRead) -> str:
    first = to_local(result.period_from).date()
    last = (to_local(result.period_to) - timedelta(days=1)).date()
    return f"{first.isoformat()} 至 {last.isoformat()}"


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _subject_row(
    sheet: Worksheet, r: int, row: SubjectRow, counts: list[str], rates: list[str]
) -> None:
    values: list[Any] = [row.rank, row.name or row.key, row.key]
    values += [row.counts.get(n) for n in counts]
    values += [row.rates.get(n) for n in rates]
    values.append(None if row.composite is None else round(row.composite * 100, 2))
    for c, value in enumerate(values, start=1):
        cell = sheet.cell(row=r, column=c, value=value)
        if 3 + len(counts) < c <= 3 + len(counts) + len(rates):
            name = rates[c - 4 - len(counts)]
            cell.number_format = "0.00" if name in _NOT_PERCENT else "0.00%"


def _subject_sheet(sheet: Worksheet, result: EvaluationRead) -> None:
    counts = list(result.total.counts)
    rates = list(result.total.rates)
    header = ["排名", "名称", "编码"]
    header += [result.labels.get(n, n) for n in counts]
    header += [result.labels.get(n, n) for n in rates]
    header.append("综合得分")
    sheet.cell(row=1, column=1, value=f"{SUBJECT_NAMES[result.subject]}综合评价（{result.period}）")
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.cell(row=2, column=1, value=f"统计期间：{_span(result)}")
    for c, title in enumerate(header, start=1):
        cell = sheet.cell(row=3, column=c, value=title)
        cell.font, cell.alignment = _BOLD, _CENTER
    r = 4
    for row in result.rows:
        _subject_row(sheet, r, row, counts, rates)
        r += 1
    _subject_row(sheet, r, result.total, counts, rates)
    sheet.cell(row=r, column=2, value="合计")
    sheet.cell(row=r, column=3, value=None)
    for c in range(1, len(header) + 1):
        sheet.cell(row=r, column=c).font = _BOLD
    sheet.freeze_panes = "D4"
    _widths(sheet, [6, 18, 18] + [12] * (len(header) - 3))


def evaluation_workbook(results: list[EvaluationRead]) -> Workbook:
    """One sheet per subject type, then 权重说明 (the weights used)."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for result in results:
        _subject_sheet(book.create_sheet(SHEET_TITLES[result.subject]), result)
    notes = book.create_sheet("权重说明")
    for c, title in enumerate(["评价对象", "指标", "权重"], start=1):
        notes.cell(row=1, column=c, value=title).font = _BOLD
    r = 2
    for result in results:
        for name, weight in result.weights.items():
            notes.append([SUBJECT_NAMES[result.subject], result.labels.get(name, name), weight])
            r += 1
    notes.cell(row=r + 1, column=1, value="综合得分 = Σ 权重 × 指标（返工率取 1 − 返工率）× 100")
    _widths(notes, [14, 24, 10])
    return book


SELF_EVAL_HEADER = [
    "一级指标",
    "二级指标",
    "三级指标",
    "年度指标值",
    "实际完成值",
    "分值",
    "得分",
    "偏差原因分析及改进措施",
]
#: The row of the self-evaluation sheet where the indicator header is.
SELF_EVAL_HEADER_ROW = 7


def self_evaluation_workbook(table: SelfEvaluationRead) -> Workbook:
    """The 项目支出绩效自评表 in the seed layout; budget cells are left for the office."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "绩效自评表"
    width = len(SELF_EVAL_HEADER)
    sheet.cell(row=1, column=1, value=table.title).font = Font(bold=True, size=16)
    sheet.cell(row=1, column=1).alignment = _CENTER
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(row=2, column=1, value=f"（{table.period}，{_span(table)}）").alignment = _CENTER
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    sheet.cell(row=3, column=1, value="项目名称").font = _BOLD
    sheet.cell(row=3, column=2, value=table.project)
    sheet.merge_cells(start_row=3, start_column=2, end_row=3, end_column=width)
    for c, title in enumerate(
        ["年初预算数（万元）", "全年预算数（万元）", "全年执行数（万元）", "执行率"], 1
    ):
        cell = sheet.cell(row=4, column=2 * c - 1, value=title)
        cell.font, cell.alignment = _BOLD, _CENTER
    sheet.cell(row=5, column=7).number_format = "0.00%"
    for c, title in enumerate(SELF_EVAL_HEADER, start=1):
        cell = sheet.cell(row=SELF_EVAL_HEADER_ROW, column=c, value=title)
        cell.font, cell.alignment = _BOLD, _CENTER
    r = SELF_EVAL_HEADER_ROW + 1
    first = r
    for line in table.lines:
        values: list[Any] = [line.level1, line.level2, line.level3, line.target_text]
        values += [line.actual, line.weight, line.score, line.reason]
        for c, value in enumerate(values, start=1):
            sheet.cell(row=r, column=c, value=value).alignment = Alignment(wrap_text=True)
        if line.actual is not None:
            is_volume = line.target is not None and line.target > 1
            sheet.cell(row=r, column=5).number_format = "#,##0" if is_volume else "0.00%"
        r += 1
    last = r - 1
    sheet.cell(row=r, column=1, value="总分").font = _BOLD
    sheet.cell(row=r, column=6, value=f"=SUM(F{first}:F{last})")
    sheet.cell(row=r, column=7, value=f"=SUM(G{first}:G{last})")
    sheet.cell(
        row=r + 1,
        column=1,
        value=(
            f"注：平台按数据计算得分 {table.computed_score}（分值 {table.computed_weight:g}）；"
            "其余指标由项目单位填写。"
        ),
    )
    sheet.merge_cells(start_row=r + 1, start_column=1, end_row=r + 1, end_column=width)
    _widths(sheet, [12, 14, 28, 18, 14, 8, 8, 36])
    return book


def to_bytes(book: Workbook) -> bytes:
    """The workbook as .xlsx bytes (for a download)."""
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
