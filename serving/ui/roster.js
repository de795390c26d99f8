const removed = [];
const NAMES = {capacity: "班级容量", target_ranks: "目标职级", unit_quota: "单位名额", unit_quotas: "单位名额", max_recent_hours: "近一年学时上限", eligibility: "资格", fairness: "公平约束（不超过需求占比的倍数）"};
function fairnessBound() { const v = document.getElementById("fairness").value; return v ? Number(v) : null; }
function share(x) { return x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`; }
// A constraint's limit or use in words: ["副处","正处"] → 副处、正处; {"副处": 3} → 副处 3 人.
function plain(value, constraint) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.map(esc).join("、") : "不限";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${esc(k)} ${esc(v)} 人`).join("、") || "—";
  if (typeof value === "number") {
    if (constraint === "max_recent_hours") return `${Math.round(value * 10) / 10} 学时`;
    if (constraint === "capacity" || constraint === "unit_quota") return `${value} 人`;
    if (constraint === "fairness") return `${Math.round(value * 100) / 100} 倍`;
    return String(Math.round(value * 1000) / 1000);
  }
  return esc(value);
}
function constraintName(c) {
  const name = NAMES[c.constraint] || c.constraint;
  return c.unit_id ? `${name}：${c.unit_name ? esc(c.unit_name) : esc(c.unit_id)}` : esc(name);
}
async function showRoster(classId) {
  document.getElementById("class-id").textContent = classId;
  clearError();
  try {
    document.getElementById("apply-fairness").onclick = () => showRoster(classId);
    const request = {class_id: classId, exclude_cadre_ids: removed, k: 200};
    if (fairnessBound()) request.fairness_bound = fairnessBound();
    const r = await api("/v1/rollcall", {method: "POST", body: JSON.stringify(request)});
    document.querySelector("#equity tbody").innerHTML = (r.equity ? r.equity.units.filter(u => u.seats > 0) : []).map(u =>
      `<tr><td>${unitLabel(u.unit_id, u.name)}</td><td>${esc(u.district || "—")}</td><td>${u.seats}</td><td>${share(u.seat_share)}</td><td>${share(u.need_share)}</td>` +
      `<td>${u.ratio === null ? "—" : Math.round(u.ratio * 100) / 100}</td></tr>`).join("");
    document.querySelector("#roster tbody").innerHTML = r.roster.map((c, i) =>
      `<tr><td>${i + 1}</td><td>${esc(c.cadre_id)}</td><td>${unitLabel(c.unit_id, c.unit_name)}</td><td>${esc(c.rank)}</td><td>${c.score.toFixed(3)}</td><td>${reasons(c.reasons)}</td>` +
      `<td><button class="secondary remove" data-cadre="${esc(c.cadre_id)}">移出</button></td></tr>`).join("");
    document.querySelectorAll("#roster button.remove").forEach(b => b.onclick = () => {
      removed.push(b.dataset.cadre);
      showRoster(classId);
    });
    document.querySelector("#constraints tbody").innerHTML = r.constraints.map(c =>
      `<tr><td>${constraintName(c)}</td><td>${plain(c.limit, c.constraint)}</td><td>${plain(c.used, c.constraint)}` +
      `${c.shortfall ? `<span class="bad">（尚缺 ${c.shortfall} 人）</span>` : ""}</td></tr>`).join("");
    const box = document.getElementById("removed");
    box.innerHTML = removed.length ? removed.map((id, i) =>
      `<span class="removed-cadre">${esc(id)} <button class="secondary undo" data-index="${i}">撤销</button></span>`).join("　") : "（无）";
    box.querySelectorAll("button.undo").forEach(b => b.onclick = () => {
      removed.splice(Number(b.dataset.index), 1);
      showRoster(classId);
    });
    Plotly.newPlot("bars", [{type: "bar", x: r.roster.map(c => c.cadre_id), y: r.roster.map(c => c.score), marker: {color: "#b3261e"}, name: "入选"}],
      {margin: {t: 20, b: 80}, yaxis: {title: "预计收益"}}, {displaylogo: false});
  } catch (e) { showError(e); }
}
