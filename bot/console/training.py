"""The console's Training page (训练): trainers (and supervisors) review the clusters
`python -m bot.trainer mine` wrote, and accept one as examples of an existing intent or
as a new intent with its reply — the same decision as `python -m bot.trainer review`,
carried out by bot.trainer.review. Agents have no access.

GET  /console/training                         clusters, their messages, the last gate report
POST /console/training/clusters/<id>/accept    keep_<mid> (checkbox), text_<mid> (edited text),
                                               intent (existing) or new_intent + response
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable, Dict
from urllib.parse import urlencode

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, redirect

from bot.trainer import mine as mining
from bot.trainer.review import Decision, Project, ReviewError, accept

ROLES = ("trainer", "supervisor")
CLUSTERS_FILE = "clusters.json"
GATE_REPORT = "gate_report.json"


def register(app: Sanic, render: Callable[..., HTTPResponse], in_thread: Callable[..., Any],
             forbidden: Callable[[Request, str], HTTPResponse], project: Project, trainer_dir: Path) -> None:
    # One review at a time: two trainers accepting at once would interleave file writes.
    writing = asyncio.Lock()

    def allowed(request: Request) -> bool:
        return request.ctx.user is not None and request.ctx.user.role in ROLES

    def page_view() -> Dict[str, Any]:
        path = trainer_dir / CLUSTERS_FILE
        view: Dict[str, Any] = {"clusters_path": str(path), "result": None, "load_error": None,
                                "intents": [i for i in project.intents() if i != "nlu_fallback"],
                                "gate": None}
        if path.exists():
            try:
                view["result"] = mining.load(path)
            except mining.MineError as error:
                view["load_error"] = str(error)
        report = trainer_dir / GATE_REPORT
        if report.exists():
            try:
                view["gate"] = json.loads(report.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                view["gate"] = None
        return view

    @app.get("/console/training")
    async def training_page(request: Request) -> HTTPResponse:
        if not allowed(request):
            return forbidden(request, "训练页面仅限训练师和主管使用")
        view = await in_thread(page_view)
        return render(request, "training.html", flash=request.args.get("flash"),
                      problem=request.args.get("error"), **view)

    def decide(cluster_id: int, form: Dict[str, str], by: str) -> str:
        path = trainer_dir / CLUSTERS_FILE
        result = mining.load(path)
        cluster = next((c for c in result["clusters"] if c.get("id") == cluster_id), None)
        if cluster is None:
            raise ReviewError(f"没有第 {cluster_id} 组")
        drop, edits = set(), {}
        for message in cluster["messages"]:
            mid = message["id"]
            if form.get(f"keep_{mid}") != "on":
                drop.add(mid)
                continue
            text = form.get(f"text_{mid}")
            if text is not None and " ".join(text.split()) != message["text"]:
                edits[mid] = text
        new_intent = form.get("new_intent", "").strip()
        intent = new_intent or form.get("intent", "").strip()
        if not intent:
            raise ReviewError("请选择一个已有意图，或填写新意图的名称")
        accepted = accept(project, result, Decision(
            cluster=cluster_id, intent=intent, new_intent=bool(new_intent),
            response=form.get("response") if new_intent else None,
            drop=frozenset(drop), edits=edits, by=by))
        mining.save(result, path)
        note = (f"第 {cluster_id} 组已作为 {intent}{'（新意图）' if new_intent else ''} 写入 "
                f"{len(accepted.examples)} 条训练样例" + (f"、{len(accepted.held_out)} 条测试样例" if accepted.held_out else "")
                + (f"，{len(accepted.skipped)} 条已在训练数据中" if accepted.skipped else "") + "。")
        if accepted.placeholder:
            note += f" 回复尚未填写：python -m bot.trainer respond {intent} \"…\"。"
        return note + " 下一步：python -m bot.trainer gate"

    @app.post("/console/training/clusters/<cluster_id:int>/accept")
    async def accept_cluster(request: Request, cluster_id: int) -> HTTPResponse:
        if not allowed(request):
            return forbidden(request, "训练页面仅限训练师和主管使用")
        form = {name: values[0] for name, values in (request.form or {}).items() if values}
        try:
            async with writing:
                note = await in_thread(decide, cluster_id, form, request.ctx.user.name)
        except (ReviewError, mining.MineError) as error:
            return redirect("/console/training?" + urlencode({"error": str(error)}) + f"#cluster-{cluster_id}",
                            status=303)
        return redirect("/console/training?" + urlencode({"flash": note}) + f"#cluster-{cluster_id}", status=303)
