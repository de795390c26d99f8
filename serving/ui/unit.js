async function showUnit(unitId) {
  document.getElementById("ledger-link").href = "/ui/units/" + encodeURIComponent(unitId) + "/compliance";
  try {
    const l = await api(`/v1/units/${encodeURIComponent(unitId)}/layout`);
    document.getElementById("unit-name").textContent = `${l.name}（${l.cadres} 名干部）`;
    const years = [...new Set(l.cells.map(c => c.year))].sort();
    const names = l.topics.map(t => t.name);
    const ids = l.topics.map(t => t.topic_id);
    const z = ids.map(id => years.map(y => { const c = l.cells.find(c => c.topic_id === id && c.year === y); return c ? c.hours : 0; }));
    Plotly.newPlot("heatmap", [{type: "heatmap", z, x: years.map(String), y: names, colorscale: "YlOrRd", reversescale: true, texttemplate: "%{z:.0f}", hovertemplate: "%{y} %{x}年：%{z:.0f} 学时<extra></extra>"}],
      {margin: {l: 110, t: 20}, xaxis: {type: "category", title: "年度"}, yaxis: {autorange: "reversed"}}, {displaylogo: false});
    document.querySelector("#weak tbody").innerHTML = l.weakest.map(w =>
      `<tr><td>${esc(w.name)}</td><td class="bad">${w.mean_gap}</td><td>${esc(w.suggested_theme)}</td><td>${w.suggested_courses.map(c => esc(c.title)).join("<br>")}</td></tr>`).join("");
  } catch (e) { showError(e); }
}
