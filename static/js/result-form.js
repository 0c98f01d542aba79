// The result form: GPS position into the hidden fields, promise fields only when
// the chosen result is a promise. No inline script (the CSP forbids it).
(function () {
  "use strict";
  var form = document.querySelector("form.result-form");
  if (!form) return;
  var code = form.querySelector("select[name=result_code]");
  var promiseFields = form.querySelectorAll(".field-promise_date, .field-promise_amount");
  var promiseCodes = (code.getAttribute("data-promise-codes") || "").split(" ");
  function togglePromise() {
    var show = promiseCodes.indexOf(code.value) !== -1;
    promiseFields.forEach(function (el) { el.hidden = !show; });
  }
  code.addEventListener("change", togglePromise);
  togglePromise();

  var status = form.querySelector(".gps");
  var lat = form.querySelector("input[name=lat]");
  var lon = form.querySelector("input[name=lon]");
  if (!navigator.geolocation) { status.textContent = status.dataset.missing; return; }
  status.textContent = status.dataset.waiting;
  navigator.geolocation.watchPosition(
    function (position) {
      lat.value = position.coords.latitude.toFixed(7);
      lon.value = position.coords.longitude.toFixed(7);
      status.textContent = status.dataset.found.replace("%s", Math.round(position.coords.accuracy));
      status.classList.add("ok");
    },
    function () { status.textContent = status.dataset.missing; },
    { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 }
  );
})();
