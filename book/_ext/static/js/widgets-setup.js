/* Set-up for the ipywidgets embed manager: loaded after require.js and before embed-amd.js on the
 * pages that show widgets (see _ext/offline_assets.py). Two fixes, both needed online as well:
 *
 * 1. The bundles in embed-amd.js load their own files (the Font Awesome fonts of the widget
 *    styles) relative to their require.js module URL, which by default is relative to the page
 *    (book/@jupyter-widgets/html-manager/dist/...: 404). Map those modules to the folder that
 *    holds embed-amd.js and the fonts, given by this script's data-embed-dist attribute
 *    (relative to this script, or absolute).
 * 2. ipywidgets 8 typesets widget labels with MathJax 2's MathJax.Hub.Queue, which MathJax 3
 *    lacks ("Cannot read properties of undefined (reading 'Queue')"). Provide that call on top
 *    of MathJax 3's typesetPromise.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var dist = new URL(script.getAttribute("data-embed-dist"), script.src).href;
  var paths = {
    "@jupyter-widgets/html-manager/dist/libembed-amd": dist + "libembed-amd"
  };
  ["base", "controls", "base7", "controls7", "html-manager"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = dist + name;
  });
  if (window.require) {
    window.require.config({ paths: paths });
  } else {
    console.error("widgets-setup.js: require.js did not load, so the widgets cannot be shown");
  }

  function queue(command) {
    // command is ["Typeset", MathJax.Hub, element]
    var mathjax = window.MathJax;
    var element = command && command[2];
    if (!element || !mathjax || !mathjax.startup || !mathjax.startup.promise) {
      return;
    }
    mathjax.startup.promise = mathjax.startup.promise
      .then(function () {
        return mathjax.typesetPromise([element]);
      })
      .catch(function (err) {
        console.warn("MathJax could not typeset a widget label:", err);
      });
  }

  function addHub() {
    // MathJax 3 replaces the configuration object window.MathJax when it loads (deferred, before
    // DOMContentLoaded); the embed manager renders the widgets on window load, after this.
    if (window.MathJax && !window.MathJax.Hub) {
      window.MathJax.Hub = { Queue: queue };
    }
  }
  document.addEventListener("DOMContentLoaded", addHub);
})();
