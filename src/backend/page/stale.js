(function () {
  // The page cannot know the reader's clock without this: it shows the warning once the page
  // is older than data-stale-after milliseconds, checking again while it stays open.
  var root = document.documentElement;
  var generated = Number(root.getAttribute("data-generated"));
  var after = Number(root.getAttribute("data-stale-after"));
  var warning = document.getElementById("stale");
  function check() {
    if (Date.now() - generated > after) {
      warning.hidden = false;
      root.classList.add("is-stale");
    }
  }
  check();
  setInterval(check, 15000);
})();
