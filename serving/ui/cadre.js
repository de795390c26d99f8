function confidenceWord(c) { return c === 0 ? "无作答" : c < 0.3 ? "低" : c < 0.7 ? "中" : "高"; }
async function showCadre(cadreId) {
  document.getElementById("cadre-id").textContent = cadreId;
  document.getElementById("dossier-link").href = "/ui/cadres/" + encodeURIComponent(cadreId) + "/dossier";
  try {
    const k = await api(`/v1/cadres/${encodeURIComponent(cadreId)}/knowledge`);
    const names = k.topics.map(t => t.name);
    const close = a => a.concat([a[0]]);
    Plotly.newPlot("radar", [
      {type: "scatterpolar", r: close(k.topics.map(t => t.required)), theta: close(names), name: "岗位要求", line: {dash: "dash", color: "#555"}},
      {type: "scatterpolar", r: close(k.topics.map(t => t.reserve)), theta: close(names), name: "知识储备", fill: "toself", line: {color: "#b3261e"}},
    ], {polar: {radialaxis: {range: [0, 100]}}, margin: {t: 30, b: 30}, legend: {orientation: "h"}}, {displaylogo: false});
    document.querySelector("#topics tbody").innerHTML = k.topics.map(t =>
      `<tr><td>${esc(t.name)}</td><td>${t.reserve}</td><td>${t.required}</td><td class="${t.gap > 0 ? "bad" : "ok"}">${t.gap}</td>` +
      `<td>${t.confidence.toFixed(2)}（${confidenceWord(t.confidence)}）</td></tr>`).join("");
    const r = await api(`/v1/cadres/${encodeURIComponent(cadreId)}/recommendations`, {method: "POST", body: JSON.stringify({k: 10})});
    document.querySelector("#recs tbody").innerHTML = r.items.map((it, i) =>
      `<tr><td>${i + 1}</td><td>${esc(it.title)} <small>${esc(it.course_id)}</small></td><td>${reasons(it.reasons)}</td></tr>`).join("");
    document.querySelector("#mandatory tbody").innerHTML = (r.mandatory || []).length ? r.mandatory.map(m =>
      `<tr><td>${esc(m.title)} <small>${esc(m.course_id)}</small></td><td>${m.hours}</td><td>${esc(m.published_on || "")}</td></tr>`).join("")
      : "<tr><td colspan=\"3\">本年度必修课程已全部完成。</td></tr>";
  } catch (e) { showError(e); }
}
