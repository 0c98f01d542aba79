// The simulator: offer only the products the chosen credit qualifies for (the server
// checks again). No inline script: the CSP forbids it.
(function () {
  "use strict";
  var form = document.querySelector("form.simulator");
  if (!form) return;
  var credit = form.querySelector("select[name=credit_code]");
  var product = form.querySelector("select[name=product]");
  if (!credit || !product) return;
  var allowed = {};
  (product.getAttribute("data-credits") || "").split("|").forEach(function (entry) {
    var parts = entry.split(":");
    if (parts.length === 2) allowed[parts[0]] = parts[1].split(" ");
  });
  function filter() {
    var first = null;
    Array.prototype.forEach.call(product.options, function (option) {
      var ok = (allowed[option.value] || []).indexOf(credit.value) !== -1;
      option.disabled = !ok;
      option.hidden = !ok;
      if (ok && first === null) first = option;
    });
    if (product.selectedOptions.length && product.selectedOptions[0].disabled && first) {
      product.value = first.value;
    }
  }
  credit.addEventListener("change", filter);
  filter();
})();
