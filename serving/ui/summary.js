// The city's compliance by district and by unit level (org keys).
function groupTable(rows) {
  return "<thead><tr><th>分组</th><th>在职干部</th><th>学时要求（条）</th><th>已达标</th><th>进度正常</th><th>有风险</th><th>已逾期</th><th>风险占比</th><th>任职培训待完成</th><th>任职培训逾期</th></tr></thead><tbody>" +
    rows.map(g => `<tr><td>${esc(g.group)}</td><td>${g.cadres}</td><td>${g.rule_lines}</td><td>${g.met}</td><td>${g.on_track}</td><td class="bad">${g.at_risk}</td><td class="bad">${g.overdue}</td>` +
      `<td>${pct(g.at_risk_share)}</td><td>${g.appointment_open}</td><td>${g.appointment_overdue}</td></tr>`).join("") + "</tbody>";
}
async function showSummary() {
  try {
    const s = await api("/v1/compliance/summary");
    document.getElementById("meta").textContent = `数据截至 ${s.asof}`;
    document.getElementById("total").innerHTML = `<table>${groupTable([s.total])}</table>`;
    document.getElementById("by-district").innerHTML = groupTable(s.by_district);
    document.getElementById("by-level").innerHTML = groupTable(s.by_level);
    const names = s.by_district.map(g => g.group);
    const bar = (key, name, color) => ({type: "bar", name, x: names, y: s.by_district.map(g => g[key]), marker: {color}});
    Plotly.newPlot("district-chart", [bar("met", "已达标", "#1b7f3b"), bar("on_track", "进度正常", "#7bb661"), bar("at_risk", "有风险", "#e0a100"), bar("overdue", "已逾期", "#b3261e")],
      {barmode: "stack", margin: {t: 20, b: 80}, legend: {orientation: "h"}, yaxis: {title: "学时要求（条）"}}, {displaylogo: false});
    document.body.dataset.loaded = "1";
  } catch (e) { showError(e); }
}
