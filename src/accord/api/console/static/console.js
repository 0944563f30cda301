// Accord console: reload pages that watch work in flight (data-refresh seconds on <body>), and ask
// before an action marked data-confirm. No framework, nothing fetched from elsewhere.
(function () {
  "use strict";
  var every = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (every > 0) {
    window.setTimeout(function () { window.location.reload(); }, every * 1000);
  }
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
