// 培训电子档案: posts, a timeline of classes and courses by year, exams, the radar by year end,
// obligations. Printable on one A4 portrait page (print CSS in base.css).
function sourceText(bySource) {
  const parts = Object.entries(bySource).map(([k, v]) => `${esc(k)} ${num(v)}`);
  return parts.length ? parts.join(" · ") : "无";
}
const PRINT_MAX = 2;
function yearBlock(y) {
  const kinds = Object.entries(y.hours_by_kind).map(([k, v]) => `${esc(k)} ${num(v)}`).join(" · ");
  const classes = y.classes.map(c => {
    const rating = c.rating === null ? "暂无评价" : `班次评价 ${num(c.rating, 2)}（${c.n_ratings} 人）`;
    return `<li>${esc(c.name)}<small>（${esc(c.start_on)}～${esc(c.end_on)}，本人 ${num(c.hours)} 学时，完成 ${c.completed}/${c.courses} 门，${rating}）</small></li>`;
  }).join("");
  const examText = e => `${esc(e.class_name)}：训前 ${num(e.pre, 0)} → 训后 ${num(e.post, 0)}（${e.gain >= 0 ? "+" : ""}${num(e.gain, 0)}）`;
  const exams = y.exams.map(examText).join("；");
  // the printed page (one A4 sheet) names at most PRINT_MAX classes and exams a year
  const more = (n, word) => n > PRINT_MAX ? ` 等 ${n} ${word}` : "";
  const meanGain = y.exams.length ? y.exams.reduce((a, e) => a + e.gain, 0) / y.exams.length : 0;
  const printed = `<p class="line print-only">班次 ${y.classes.length} 个${y.classes.length ? "：" + y.classes.slice(0, PRINT_MAX).map(c => esc(c.name)).join("、") + more(y.classes.length, "个") : ""}` +
    (y.exams.length ? `；班次考试 ${y.exams.length} 次，训前→训后平均 ${meanGain >= 0 ? "+" : ""}${num(meanGain, 0)} 分` : "") + "</p>";
  const own = y.courses.filter(c => !c.class_id);
  const done = y.courses.filter(c => c.completed).length;
  const rows = y.courses.map(c => `<tr><td>${esc(c.title)} <small>${esc(c.course_id)}</small></td><td>${esc(c.mode)}</td><td>${esc(c.source)}</td>` +
    `<td>${esc(c.enrolled_on)}</td><td>${c.completed ? esc(c.completed_on) : "未完成（" + Math.round(c.progress * 100) + "%）"}</td><td>${num(c.hours, 2)}</td></tr>`).join("");
  return `<div class="year"><h4>${y.year} 年 · ${num(y.hours)} 学时 <small>（${kinds}；${sourceText(y.hours_by_source)}）</small></h4>` +
    (classes ? `<ul class="classes screen-only">${classes}</ul>` : "<p class=\"note screen-only\">本年未参加班次。</p>") +
    printed +
    `<p class="line">班次外自学课程 ${own.length} 门；全年课程 ${y.courses.length} 门，完成 ${done} 门。</p>` +
    (exams ? `<p class="line screen-only">考试成绩：${exams}</p>` : "") +
    (rows ? `<details class="screen-only"><summary>课程明细（${y.courses.length} 门）</summary><table><thead><tr><th>课程</th><th>方式</th><th>来源</th><th>报名</th><th>完成</th><th>学时</th></tr></thead><tbody>${rows}</tbody></table></details>` : "") +
    "</div>";
}
function drawRadars(d) {
  const box = document.getElementById("radars");
  const years = d.years.filter(y => y.reserve.length);
  box.innerHTML = years.map((y, i) => `<div class="radar-year"><div id="radar-${i}" class="mini-radar"></div><p>${y.year} 年末${y.year === years[years.length - 1].year ? "（当前）" : ""}</p></div>`).join("");
  const names = d.required.map(t => t.name);
  const close = a => a.concat([a[0]]);
  years.forEach((y, i) => {
    Plotly.newPlot(`radar-${i}`, [
      {type: "scatterpolar", r: close(d.required.map(t => t.required)), theta: close(names), line: {dash: "dash", color: "#555", width: 1}, hoverinfo: "skip"},
      {type: "scatterpolar", r: close(y.reserve.map(t => t.reserve)), theta: close(names), fill: "toself", line: {color: "#b3261e", width: 1.5}},
    ], {width: 180, height: 180, showlegend: false, margin: {t: 14, b: 14, l: 26, r: 26},
        polar: {radialaxis: {range: [0, 100], showticklabels: false}, angularaxis: {tickfont: {size: 7}}}},
    {displayModeBar: false, staticPlot: true});
  });
}
async function showDossier(cadreId) {
  document.getElementById("cadre-id").textContent = cadreId;
  document.getElementById("radar-link").href = cadreUrl(cadreId);
  document.getElementById("print").onclick = () => window.print();
  document.getElementById("xlsx").onclick = () => downloadXlsx(`/v1/cadres/${encodeURIComponent(cadreId)}/dossier?format=xlsx`, `培训档案_${cadreId}.xlsx`).catch(showError);
  try {
    const d = await api(`/v1/cadres/${encodeURIComponent(cadreId)}/dossier`);
    document.getElementById("who").innerHTML = `${unitLabel(d.unit_id, d.unit_name)} · ${esc(d.rank)} · ${esc(d.category)} · ` +
      `${d.in_service ? "在职" : "<b>已离任</b>"} · 累计 ${num(d.total_hours)} 学时 · 数据截至 ${esc(d.asof)}`;
    document.querySelector("#posts tbody").innerHTML = d.posts.map(p =>
      `<tr><td>${unitLabel(p.unit_id, p.unit_name)}</td><td>${esc(p.rank)}</td><td>${esc(p.category)}</td><td>${p.from_on ? esc(p.from_on) : "—"}～${p.to_on ? esc(p.to_on) : "至今"}</td></tr>`).join("");
    document.getElementById("timeline").innerHTML = d.years.length ? d.years.slice().reverse().map(yearBlock).join("") : "<p>暂无参训记录。</p>";
    document.getElementById("reserve-note").textContent = d.reserve_note;
    drawRadars(d);
    document.getElementById("rules").innerHTML = rulesTable(d.rules);
    document.getElementById("appointment").innerHTML = appointmentList(d.appointment);
    document.getElementById("mandatory").innerHTML = mandatoryList(d.mandatory);
    document.body.dataset.loaded = "1";
  } catch (e) { showError(e); }
}
