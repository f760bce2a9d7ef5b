"""Scale presets: how many cases a year and how many people do the work."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    #: Cases (案卷) a year, all sources; answered consultations come on top.
    cases_per_year: int
    inspectors: int  # 监督员
    grid_workers: int  # 网格员
    #: Bureaus (org units of kind ``department``) wanted; generated ones fill the gap.
    bureaus: int
    operators: int
    #: Simulated days written per transaction (bigger: fewer updates of open cases).
    days_per_batch: int = 1
    postgres_only: bool = False
    #: Share of cases by source: inspector, hotline, public, sensor.
    sources: tuple[float, float, float, float] = (0.72, 0.20, 0.05, 0.03)
    #: Answered consultations per hotline case (58.5 % of Beijing's 12345 calls are consultations).
    consultations_per_hotline_case: float = 1.4


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("tiny", 2_500, inspectors=4, grid_workers=6, bureaus=0, operators=2),
        Preset("small", 20_000, inspectors=12, grid_workers=40, bureaus=0, operators=4),
        Preset("demo", 100_000, inspectors=30, grid_workers=120, bureaus=0, operators=6),
        Preset(
            "fengtai", 650_000, inspectors=200, grid_workers=1_500, bureaus=41, operators=32,
            days_per_batch=7,
        ),
        Preset(
            "city", 20_000_000, inspectors=4_000, grid_workers=30_000, bureaus=60,
            operators=600, postgres_only=True, sources=(0.30, 0.62, 0.05, 0.03),
        ),
    )
}  # fmt: skip


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}") from None
