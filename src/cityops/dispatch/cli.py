"""The ``cityops dispatch`` commands: evaluate on a labelled file, train from cases, suggest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cityops.errors import CityopsError

app = typer.Typer(
    help="Learned dispatch suggestions: evaluate, train, suggest.", no_args_is_help=True
)


def _fail(error: CityopsError) -> typer.Exit:
    typer.echo(f"error: {error.message}", err=True)
    return typer.Exit(code=1)


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="labelled CSV, JSON (list) or JSON Lines file")],
    text_col: Annotated[str, typer.Option(help="column with the free text")],
    label_col: Annotated[str, typer.Option(help="column with the label")],
    title_col: Annotated[
        str | None, typer.Option(help="optional subject-line column, weighted on its own")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, help="stratified folds")] = 5,
    seed: Annotated[int, typer.Option(help="shuffling seed; same seed, same figures")] = 42,
    prior: Annotated[
        Path | None,
        typer.Option(help="taxonomy CSV (level 1, level 2, level 3…) used as prior terms"),
    ] = None,
    tune: Annotated[
        bool, typer.Option(help="choose C and n-gram length by inner CV in each fold")
    ] = False,
    words: Annotated[bool, typer.Option(help="add jieba word features")] = False,
) -> None:
    """Cross-validate the classifier: accuracy, macro-F1, top-3 accuracy, confusions."""
    from cityops.dispatch.evaluation import (
        cross_validate,
        format_report,
        load_labelled,
        read_taxonomy,
    )
    from cityops.dispatch.textclf import ClassifierConfig, taxonomy_prior

    try:
        data = load_labelled(file, text_col=text_col, label_col=label_col, title_col=title_col)
        examples = (
            taxonomy_prior(read_taxonomy(prior), set(data.labels)) if prior is not None else []
        )
        report = cross_validate(
            data.docs,
            data.labels,
            config=ClassifierConfig(tune=tune, words=words),
            folds=folds,
            seed=seed,
            prior=examples,
        )
    except CityopsError as exc:
        raise _fail(exc) from exc
    if data.skipped:
        typer.echo(f"skipped {data.skipped} rows with an empty text or label")
    if examples:
        typer.echo(f"prior: {len(examples)} taxonomy examples added to each training fold")
    typer.echo(format_report(report))


@app.command()
def train(
    district: Annotated[
        str | None, typer.Option(help="only this district's cases (6-digit code)")
    ] = None,
    min_class_cases: Annotated[
        int, typer.Option(min=1, help="leave out labels with fewer closed cases")
    ] = 2,
) -> None:
    """Train the class and department models from closed cases; store them in the data dir."""
    from cityops.clisupport import cli_settings, session_scope
    from cityops.dispatch.service import train_from_cases

    settings = cli_settings()
    try:
        with session_scope(write=False) as session:
            results = train_from_cases(
                session=session,
                data_dir=settings.data_dir,
                district_code=district,
                min_class_cases=min_class_cases,
            )
    except CityopsError as exc:
        raise _fail(exc) from exc
    for r in results:
        if r.path is None:
            typer.echo(f"{r.target}: not trained — {r.skipped}")
        else:
            typer.echo(f"{r.target}: {r.cases} cases, {r.classes} labels → {r.path}")
        if r.dropped:
            typer.echo(f"  left out (too few cases): {', '.join(r.dropped)}")
    if all(r.path is None for r in results):
        raise typer.Exit(code=1)


@app.command()
def suggest(
    text: Annotated[str, typer.Argument(help="free text, e.g. 小区门口井盖破损")],
    k: Annotated[int, typer.Option(min=1, max=10, help="suggestions per list")] = 3,
) -> None:
    """Print the top-k minor classes and departments for a text, with their reasons."""
    from cityops.clisupport import cli_settings
    from cityops.dispatch.service import suggest_dispatch

    try:
        found = suggest_dispatch(data_dir=cli_settings().data_dir, text=text, k=k)
    except CityopsError as exc:
        raise _fail(exc) from exc
    if found.message:
        typer.echo(found.message)
    for title, items in (("minor class", found.classes), ("department", found.departments)):
        if not items:
            continue
        typer.echo(f"{title}:")
        for s in items:
            name = found.class_names.get(s.label, "")
            reasons = "、".join(s.top_features) or "—"
            typer.echo(f"  {s.label} {name}  {s.confidence:.2f}  because: {reasons}".rstrip())
