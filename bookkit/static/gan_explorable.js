/* Interactive figures of the book (sims/interactive.py): swap precomputed frames when a control moves.
 * Every number comes from the frames that the build computed with the project's Python modules; this file
 * only merges a frame into the figure and asks plotly.js (served from _static) to redraw. */
(function () {
  "use strict";

  function merged(spec, frame) {
    var data = spec.data.map(function (trace, i) {
      return Object.assign({}, trace, frame.traces[String(i)] || {});
    });
    var layout = Object.assign({}, spec.layout, frame.layout || {});
    return { data: data, layout: layout };
  }

  function init(root) {
    var spec = JSON.parse(root.querySelector("script.gan-explorable-data").textContent);
    var plot = root.querySelector(".gan-explorable-plot");
    var readout = root.querySelector(".gan-explorable-readout");
    var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-control]"));

    function draw() {
      var key = inputs.map(function (el) { return el.value; }).join(",");
      var frame = spec.frames[spec.index[key]];
      var figure = merged(spec, frame);
      inputs.forEach(function (el) {
        var shown = el.parentNode.querySelector("output");
        if (shown) { shown.textContent = spec.controls[Number(el.dataset.control)].labels[Number(el.value)]; }
      });
      readout.textContent = frame.readout;
      return Plotly.react(plot, figure.data, figure.layout, spec.config);
    }

    plot.innerHTML = "";
    if (spec.layout.height) { plot.style.height = spec.layout.height + "px"; }
    inputs.forEach(function (el) { el.addEventListener("input", draw); el.addEventListener("change", draw); });
    root.classList.add("gan-explorable-live");
    draw();
  }

  function initAll() {
    if (typeof window.Plotly === "undefined") { return; }  // the static image stays
    document.querySelectorAll(".gan-explorable").forEach(init);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initAll);
  } else {
    initAll();
  }
})();
