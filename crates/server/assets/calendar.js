// Drag a post that may be moved onto another day of the calendar: it keeps its time of day and
// goes through the same "Move" form a keyboard user fills in, so the server checks it the same way.
(function () {
  "use strict";
  var dragged = null;
  function movable(entry) {
    return entry && entry.querySelector("form.reschedule input[name=at]");
  }
  document.querySelectorAll(".cal-entry").forEach(function (entry) {
    if (!movable(entry)) return;
    entry.setAttribute("draggable", "true");
    entry.classList.add("movable");
    entry.addEventListener("dragstart", function (ev) {
      dragged = entry;
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", entry.id);
    });
    entry.addEventListener("dragend", function () {
      dragged = null;
      document.querySelectorAll("td.day.drop-target").forEach(function (d) { d.classList.remove("drop-target"); });
    });
  });
  document.querySelectorAll("td.day").forEach(function (day) {
    day.addEventListener("dragover", function (ev) {
      if (!dragged) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "move";
      day.classList.add("drop-target");
    });
    day.addEventListener("dragleave", function () { day.classList.remove("drop-target"); });
    day.addEventListener("drop", function (ev) {
      if (!dragged) return;
      ev.preventDefault();
      var input = movable(dragged);
      var iso = day.id.replace(/^day-/, "");
      var time = input.value.split("T")[1];
      if (!/^\d{4}-\d{2}-\d{2}$/.test(iso) || !time) return;
      input.value = iso + "T" + time;
      dragged.classList.add("moving");
      input.form.submit();
    });
  });
})();
