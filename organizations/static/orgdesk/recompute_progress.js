// Group Mapping: follow the access recompute jobs of the SCIM tab
// (templates/admin/mappings/_group_mapping_section.html) by polling the URL in
// #recompute-progress[data-url]; reload the page once none is left.
(function () {
  "use strict";
  var box = document.getElementById("recompute-progress");
  if (!box) return;
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      if (!data.jobs.length) { window.location.reload(); return; }
      data.jobs.forEach(function (job) {
        var row = box.querySelector('[data-job="' + job.id + '"]');
        if (!row) return;
        row.querySelector("progress").value = job.done;
        row.querySelector(".recompute-count").textContent = job.done + "/" + job.total;
      });
      setTimeout(poll, 2000);
    }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
