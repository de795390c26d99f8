// Shared by the organisation department's pages (dossier, ledger, summary, selection): status
// badges, Excel downloads with the key, small formatting helpers.
const STATUS_CLASS = {"已达标": "st-met", "已完成": "st-met", "进度正常": "st-ok", "待完成": "st-open", "有风险": "st-risk", "已逾期": "st-over"};
function statusBadge(s) { return `<span class="status ${STATUS_CLASS[s] || ""}">${esc(s)}</span>`; }
function pct(p) { return p === null || p === undefined ? "—" : `${Math.round(p * 100)}%`; }
function num(x, digits = 1) { return x === null || x === undefined ? "—" : (Math.round(x * 10 ** digits) / 10 ** digits).toString(); }
function dossierUrl(id) { return "/ui/cadres/" + encodeURIComponent(id) + "/dossier"; }
function ledgerUrl(id) { return "/ui/units/" + encodeURIComponent(id) + "/compliance"; }
function cadreLink(id) { return `<a href="${dossierUrl(id)}">${esc(id)}</a>`; }
// The API needs the key in a header, so an Excel file is fetched and handed to the browser.
async function downloadXlsx(path, filename, options = {}) {
  const headers = Object.assign({"X-API-Key": apiKey(), "Content-Type": "application/json"}, options.headers || {});
  let r;
  try { r = await fetch(path, Object.assign({}, options, {headers})); } catch (e) { throw new ApiError("network", 0); }
  if (!r.ok) {
    let code = `http_${r.status}`;
    try { const body = await r.json(); code = body.error.code || code; } catch (e) { /* not JSON */ }
    throw new ApiError(code, r.status);
  }
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url; a.download = filename; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
function rulesTable(rules) {
  if (!rules.length) return "<p class=\"note\">当前职级无适用的学时规定。</p>";
  return "<table class=\"rules\"><thead><tr><th>培训要求</th><th>类别</th><th>周期</th><th>应修</th><th>已修</th><th>尚缺</th><th>达标概率</th><th>状态</th></tr></thead><tbody>" +
    rules.map(r => `<tr><td>${esc(r.rule_name)}</td><td>${esc(r.kind)}</td><td>${esc(r.window_start)}～${esc(r.window_end)}</td>` +
      `<td>${num(r.required)}</td><td>${num(r.hours)}</td><td>${num(r.due)}</td><td>${r.due > 0 ? pct(r.p_met) : "—"}</td><td>${statusBadge(r.status)}</td></tr>` +
      (r.open_classes && r.open_classes.length ? `<tr class="open-classes"><td colspan="8">本周期内已发布、可参加的班次：` +
        r.open_classes.map(c => `${esc(c.name)}（${esc(c.start_on)}，${num(c.hours)} 学时）`).join("；") + "</td></tr>" : "")).join("") +
    "</tbody></table>";
}
function appointmentList(list) {
  if (!list.length) return "";
  return "<p><b>任职培训：</b>" + list.map(a =>
    `${esc(a.promoted_on)} 提任${esc(a.to_rank)}，${esc(a.kind)}学时尚缺 ${num(a.remaining)}，截止 ${esc(a.due_on)} ${statusBadge(a.status)}`).join("；") + "</p>";
}
function mandatoryList(list) {
  if (!list.length) return "<p><b>必修课程：</b>本年度必修课程已全部完成。</p>";
  return "<p><b>必修课程（尚未完成）：</b>" + list.map(m => `${esc(m.title)}（${num(m.hours)} 学时）`).join("；") + "</p>";
}
