// 选拔任用参考: candidates ranked against a post's requirement, each with its evidence.
const RANK_LIST = ["科员", "副科", "正科", "副处", "正处", "副厅"];
const CATEGORY_LIST = ["综合管理", "经济管理", "政法", "社会事业", "城建环保", "党务群团"];
function ids(text) { return text.split(/[,，\s]+/).map(s => s.trim()).filter(Boolean); }
function requestBody() {
  const body = {post: {rank: document.getElementById("rank").value, category: document.getElementById("category").value}, k: 50};
  const cadres = ids(document.getElementById("cadres").value);
  const units = ids(document.getElementById("units").value);
  const ranks = ids(document.getElementById("ranks").value);
  if (cadres.length) body.cadre_ids = cadres;
  else if (units.length) body.unit_ids = units;
  if (ranks.length && !cadres.length) body.ranks = ranks;
  return body;
}
function fitCell(c) {
  const width = Math.max(0, Math.min(100, c.fit));
  return `<div class="fitbar"><span style="left:${c.fit_low}%;width:${Math.max(c.fit_high - c.fit_low, 0.5)}%" class="fit-range"></span><span style="left:${width}%" class="fit-point"></span></div>` +
    `<b>${num(c.fit)}</b> <small>（${num(c.fit_low)}～${num(c.fit_high)}）</small>`;
}
async function runSelection() {
  clearError();
  const body = requestBody();
  try {
    const r = await api("/v1/posts/fit", {method: "POST", body: JSON.stringify(body)});
    document.getElementById("required").innerHTML = (r.requirement_source === "request" ? "按输入的专题要求：" : "按该职级、岗位类别的岗位要求：") +
      r.required.map(t => `${esc(t.name)} ${num(t.required, 0)}`).join("、");
    document.getElementById("summary").textContent = `共 ${r.n_candidates} 名候选人，显示前 ${r.candidates.length} 名；其中 ${r.thin_evidence} 名证据不足（已标注，区间较宽，未因此降低排名）。`;
    document.querySelector("#cands tbody").innerHTML = r.candidates.map(c => {
      const gaps = c.shortfalls.filter(s => s.shortfall > 0).slice(0, 3).map(s => `${esc(s.name)} ${num(s.shortfall, 0)}`).join("、") || "无明显短板";
      const rec = c.record;
      return `<tr class="${c.thin_evidence ? "thin" : ""}"><td>${c.position}</td><td>${cadreLink(c.cadre_id)}</td><td>${unitLabel(c.unit_id, c.unit_name)}</td><td>${esc(c.rank)}</td>` +
        `<td>${fitCell(c)}</td><td><span class="evidence ev-${c.thin_evidence ? "thin" : "ok"}">${esc(c.evidence_level)}</span><br><small>${esc(c.evidence)}</small></td>` +
        `<td>${gaps}</td><td><small>累计 ${num(rec.hours_total, 0)} 学时，近一年 ${num(rec.hours_last_year, 0)} 学时，${rec.classes} 个班次${rec.last_trained_on ? "，最近 " + esc(rec.last_trained_on) : ""}</small></td>` +
        `<td><small>${c.obligations.map(esc).join("<br>") || "—"}</small></td></tr>`;
    }).join("");
    document.getElementById("method").textContent = r.method;
    document.body.dataset.loaded = "1";
  } catch (e) { showError(e); }
}
function showSelection() {
  const q = new URLSearchParams(location.search);
  const fill = (id, list, value) => {
    const el = document.getElementById(id);
    el.innerHTML = list.map(v => `<option${v === value ? " selected" : ""}>${v}</option>`).join("");
  };
  fill("rank", RANK_LIST, q.get("rank") || "副处");
  fill("category", CATEGORY_LIST, q.get("category") || "综合管理");
  for (const id of ["units", "ranks", "cadres"]) document.getElementById(id).value = q.get(id) || "";
  document.getElementById("run").onclick = runSelection;
  document.getElementById("xlsx").onclick = () => downloadXlsx("/v1/posts/fit?format=xlsx", "选拔任用参考.xlsx", {method: "POST", body: JSON.stringify(requestBody())}).catch(showError);
  if (q.get("rank")) runSelection();
}
