const removed = [];
const NAMES = {capacity: "班级容量", target_ranks: "目标职级", unit_quotas: "单位名额", max_recent_hours: "近一年学时上限", eligibility: "资格"};
async function showRoster(classId) {
  document.getElementById("class-id").textContent = classId;
  try {
    const r = await api("/v1/rollcall", {method: "POST", body: JSON.stringify({class_id: classId, exclude_cadre_ids: removed, k: 200})});
    document.querySelector("#roster tbody").innerHTML = r.roster.map((c, i) =>
      `<tr><td>${i + 1}</td><td>${esc(c.cadre_id)}</td><td>${esc(c.unit_id)}</td><td>${esc(c.rank)}</td><td>${c.score.toFixed(3)}</td><td>${reasons(c.reasons)}</td>` +
      `<td><button class="secondary" data-cadre="${esc(c.cadre_id)}">移出</button></td></tr>`).join("");
    document.querySelectorAll("#roster button").forEach(b => b.onclick = () => { removed.push(b.dataset.cadre); showRoster(classId); });
    document.querySelector("#constraints tbody").innerHTML = r.constraints.map(c =>
      `<tr><td>${esc(NAMES[c.constraint] || c.constraint)}</td><td>${esc(JSON.stringify(c.limit))}</td><td>${esc(JSON.stringify(c.used))}</td></tr>`).join("");
    document.getElementById("removed").textContent = removed.length ? removed.join("、") : "（无）";
    Plotly.newPlot("bars", [{type: "bar", x: r.roster.map(c => c.cadre_id), y: r.roster.map(c => c.score), marker: {color: "#b3261e"}, name: "入选"}],
      {margin: {t: 20, b: 80}, yaxis: {title: "预计收益"}}, {displaylogo: false});
  } catch (e) { showError(e); }
}
