"""`pixseek eval` (retrieval quality, measured) and `pixseek duplicates` (near-duplicate groups)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli.support import reports_errors
from pixseek.library import Library
from pixseek.quality.duplicates import Duplicates, Group
from pixseek.quality.evaluate import QUANTIZATIONS, Plan
from pixseek.quality.marks import DistinctMarks
from pixseek.quality.report import plot, table
from pixseek.quality.run import EvalRequest, run_eval
from pixseek.quality.transforms import TRANSFORMS
from pixseek.quality.wordeval import evaluate_words, word_queries, words_table
from pixseek.settings import Settings
from pixseek.store.modelstate import model_id


def _numbers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"not a comma-separated list of numbers: {text}") from None


def _names(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise click.BadParameter(f"unknown {', '.join(unknown)}; known: {', '.join(allowed)}")
        return names

    return parse


@click.command("eval")
@click.argument(
    "folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON Lines: {"text": ...} or {"image": path}, with "relevant" and "junk" paths.',
)  # fmt: skip
@click.option(
    "--corpus", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="With --queries: a folder of more pictures to search among (repeatable).",
)  # fmt: skip
@click.option("--copies", type=click.IntRange(1), help="Copy detection: N library photos, edited.")
@click.option("--seed", default=0, show_default=True, help="Which photos --copies picks.")
@click.option(
    "--transforms", default=",".join(TRANSFORMS), show_default=True,
    help="The edits --copies makes.",
)  # fmt: skip
@click.option(
    "--distractors", default=0, type=click.IntRange(0), show_default=True,
    help="Library photos added to what is searched, by their stored vectors.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path),
    help="The eval's own folder (copies, temporary indexes); default DATA_DIR/eval.",
)  # fmt: skip
@click.option("--model", "models", multiple=True, help="A model to measure (repeatable); default: "
              "every model with vectors in the index.")  # fmt: skip
@click.option("--ef", default="16,64,256", show_default=True, help="hnsw_ef values to compare.")
@click.option(
    "--quantization", default=",".join(QUANTIZATIONS), show_default=True,
    help="Quantizations to compare (quantized ones search at PIXSEEK_HNSW_EF).",
)  # fmt: skip
@click.option("--precision", default="fp32,int8", show_default=True,
              help="Embedding precisions to compare (int8: on a CPU).")  # fmt: skip
@click.option("--no-rerank", is_flag=True, help="Leave spatial re-ranking out of the comparison.")
@click.option(
    "--words", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Text search instead: JSON Lines {"text", "kind", "relevant": [file names]} run on the '
    "library's index by the picture, by the words, and fused.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write Recall@K curves per configuration to this PNG.")  # fmt: skip
@click.pass_obj
@reports_errors
def eval_command(
    settings: Settings, folder: Path | None, queries: Path | None, corpus: tuple[Path, ...],
    copies: int | None, seed: int, transforms: str, distractors: int, out: Path | None,
    models: tuple[str, ...], ef: str, quantization: str, precision: str, no_rerank: bool,
    words: Path | None, as_json: bool, plot_path: Path | None,
) -> None:  # fmt: skip
    """Measure search quality (Recall@K, mAP, MRR, nDCG, latency) of several configurations on
    a labelled FOLDER (a subfolder per group), a --queries file, or --copies of library photos.
    Builds temporary indexes in its own folder; the library's index is only read."""
    if words is not None:
        with Library(settings) as library:
            found = evaluate_words(library, word_queries(words))
        click.echo(json.dumps(found, indent=2) if as_json else words_table(found))
        return
    plan = Plan(
        efs=_numbers(ef),
        quantizations=_names(QUANTIZATIONS)(quantization),
        precisions=_names(("fp32", "int8"))(precision),
        rerank=not no_rerank,
        ef=settings.hnsw_ef, m=settings.hnsw_m, ef_construct=settings.hnsw_ef_construct,
    )  # fmt: skip
    request = EvalRequest(
        folder=folder, queries=queries, corpus=corpus, copies=copies or 0, seed=seed,
        transforms=_names(tuple(TRANSFORMS))(transforms), distractors=distractors, out=out,
        models=models, plan=plan,
    )  # fmt: skip
    report = run_eval(settings, request, progress=lambda m: click.echo(m, err=True))
    if plot_path is not None:
        plot(report, plot_path)
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else table(report))


@click.command("duplicates")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
@click.pass_obj
@reports_errors
def duplicates_command(settings: Settings, as_json: bool) -> None:
    """List groups of near-duplicate photos, the one to keep first."""
    with Library(settings) as library:
        marks = DistinctMarks(library.database)
        model = model_id(library.model_state().active)  # no model loads for this
        groups = Duplicates(library.index, marks, settings.thumbs_dir).groups(model)
    if as_json:
        click.echo(json.dumps([_group_json(g) for g in groups], indent=2))
        return
    if not groups:
        click.echo("no duplicates")
    for group in groups:
        click.echo(f"{len(group.ids)} photos [{group.id}]")
        for point in [group.keep, *(i for i in group.ids if i != group.keep)]:
            payload = group.payloads[point]
            paths = payload.get("paths") or ["?"]
            mark = "keep" if point == group.keep else "    "
            size = f"{payload.get('width')}x{payload.get('height')}"
            click.echo(f"  {mark} {size:>11}  {payload.get('taken_at') or '-':19}  {paths[0]}")


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "keep": group.keep,
        "photos": [
            {"id": i, "path": (group.payloads[i].get("paths") or [None])[0]}
            | {k: group.payloads[i].get(k) for k in ("width", "height", "bytes", "taken_at")}
            for i in group.ids
        ],
    }
