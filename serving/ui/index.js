// The landing page: open a page by id, never with an empty box.
const BOXES = [
  {box: "cadre", button: "open-cadre", label: "干部编号", url: cadreUrl, example: ex => ex.cadres[0] && ex.cadres[0].cadre_id},
  {box: "unit", button: "open-unit", label: "单位编号", url: unitUrl, example: ex => ex.units[0] && ex.units[0].unit_id},
  {box: "class", button: "open-class", label: "班次编号", url: rosterUrl, example: ex => ex.classes[0] && ex.classes[0].class_id},
  {box: "class-life", button: "open-needs", label: "班次编号", url: id => rosterUrl(id).replace(/roster$/, "needs"), example: ex => ex.classes[0] && ex.classes[0].class_id},
  {box: "class-life", button: "open-evaluation", label: "班次编号", url: id => rosterUrl(id).replace(/roster$/, "evaluation"), example: () => null},
];
function openFrom(spec) {
  const value = document.getElementById(spec.box).value.trim();
  if (!value) {
    document.getElementById("error").textContent = `请先输入${spec.label}（可点击下方的示例编号）。`;
    document.getElementById(spec.box).focus();
    return;
  }
  location.href = spec.url(value);
}
for (const spec of BOXES) {
  document.getElementById(spec.button).onclick = () => openFrom(spec);
  document.getElementById(spec.box).addEventListener("keydown", e => { if (e.key === "Enter") openFrom(spec); });
}
loadExamples().then(ex => {
  if (!ex) return;
  for (const spec of BOXES) {
    const id = spec.example(ex);
    if (id) document.getElementById(spec.box).placeholder = `${spec.label}，如 ${id}`;
  }
});
