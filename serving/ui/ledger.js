// A unit's compliance ledger (学时达标台账) with its Excel export.
async function showLedger(unitId) {
  document.getElementById("unit-name").textContent = unitId;
  document.getElementById("xlsx").onclick = () => downloadXlsx(`/v1/units/${encodeURIComponent(unitId)}/compliance?format=xlsx`, `学时台账_${unitId}.xlsx`).catch(showError);
  try {
    const l = await api(`/v1/units/${encodeURIComponent(unitId)}/compliance`);
    document.getElementById("unit-name").innerHTML = unitLabel(l.unit_id, l.unit_name);
    document.getElementById("meta").textContent = `在职干部 ${l.cadres} 人 · 数据截至 ${l.asof}`;
    document.getElementById("counts").innerHTML = Object.entries(l.counts).map(([s, n]) => `${statusBadge(s)} ${n} 条`).join("　");
    document.querySelector("#ledger tbody").innerHTML = l.rows.map(r =>
      `<tr><td>${cadreLink(r.cadre_id)}</td><td>${esc(r.rank)}</td><td>${esc(r.obligation)}</td><td>${esc(r.kind)}</td><td>${num(r.required)}</td>` +
      `<td>${num(r.hours)}</td><td>${num(r.due)}</td><td>${esc(r.deadline)}</td><td>${pct(r.p_met)}</td><td>${statusBadge(r.status)}</td></tr>`).join("");
    document.body.dataset.loaded = "1";
  } catch (e) { showError(e); }
}
