/*
 * ReplyX widget loader: the one tag a site owner adds.
 *   <script src="https://HOST/widget.js" data-assistant-id="…" async></script>  (iframe)
 *   <script src="https://HOST/widget.js" data-site-token="…" async></script>    (site embed)
 * For a signed-in user, the site's backend adds data-user-token="…": an identity token
 * it signed with one of the assistant's identity keys (docs/security.md).
 * A classic script (works with `async`), so it only finds its own tag and loads the
 * widget module from the same server.
 */
// @ts-check
(function () {
  var script = /** @type {HTMLScriptElement | null} */ (document.currentScript);
  if (!script || !script.src) return;
  var server = new URL(script.src).origin;
  var options = {
    server: server,
    assistantId: script.getAttribute("data-assistant-id") || "",
    siteToken: script.getAttribute("data-site-token") || "",
    identityToken: script.getAttribute("data-user-token") || "",
    lang: script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "en",
  };
  import(server + "/static/widget/embed.js").then(function (m) {
    m.embed(options);
  });
})();
