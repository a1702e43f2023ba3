/*
 * Search on a site opened from the file system (file://), with no network.
 *
 * Material for MkDocs runs its search in a Web Worker, and browsers refuse to start a worker
 * from a file:// page. Its offline plugin fills that gap with a polyfill loaded from unpkg.com
 * (the `iframe-worker` package), which a machine without a network cannot fetch. mkdocs.yml
 * lists this file instead (the plugin skips its own when a polyfill's name contains
 * "iframe-worker"), so the built site makes no request outside itself.
 *
 * On file:// pages only, `Worker` is replaced by a stand-in that runs the worker's script in a
 * hidden iframe: the iframe's window plays the worker's global scope (its `postMessage` and
 * "message" events), and messages are passed both ways asynchronously, as a worker's are.
 * Material's search worker needs nothing more for English (`importScripts` only loads the
 * stemmers of other languages). If the stand-in cannot be set up, the browser's own Worker is
 * used, and Material turns search off when that fails, as it would without any polyfill.
 */
(function () {
  "use strict";

  if (location.protocol !== "file:" || typeof EventTarget !== "function") {
    return;
  }
  var NativeWorker = window.Worker;

  class FileWorker extends EventTarget {
    constructor(url) {
      super();
      this.onmessage = null;
      this.onerror = null;
      this._pending = [];
      this._loaded = false;

      var frame = document.createElement("iframe");
      frame.hidden = true;
      frame.tabIndex = -1;
      frame.setAttribute("aria-hidden", "true");
      (document.body || document.documentElement).appendChild(frame);
      this._frame = frame;

      var scope = frame.contentWindow;
      var worker = this;
      // What the worker posts goes to this object's listeners, never to the iframe itself
      scope.postMessage = function (data) {
        setTimeout(function () { worker._emit(new MessageEvent("message", { data: data })); });
      };
      scope.importScripts = function () {
        throw new Error("importScripts is not available to a worker started from file://");
      };

      var script = scope.document.createElement("script");
      script.src = new URL(url, document.baseURI).href;
      script.onload = function () {
        worker._loaded = true;
        worker._pending.splice(0).forEach(function (data) { worker._deliver(data); });
      };
      script.onerror = function () {
        worker._emit(new ErrorEvent("error", { message: "could not load " + script.src }));
      };
      scope.document.head.appendChild(script);
    }

    postMessage(data) {
      if (this._loaded) {
        this._deliver(data);
      } else {
        this._pending.push(data);
      }
    }

    terminate() {
      if (this._frame.parentNode) {
        this._frame.parentNode.removeChild(this._frame);
      }
    }

    _deliver(data) {
      var scope = this._frame.contentWindow;
      if (!scope) {
        return; // terminated
      }
      setTimeout(function () { scope.dispatchEvent(new scope.MessageEvent("message", { data: data })); });
    }

    _emit(event) {
      var handler = event.type === "message" ? this.onmessage : this.onerror;
      if (typeof handler === "function") {
        handler.call(this, event);
      }
      this.dispatchEvent(event);
    }
  }

  window.Worker = function (url, options) {
    try {
      return new FileWorker(url);
    } catch (error) {
      console.warn("search: the file:// worker stand-in failed, using the browser's own", error);
      return new NativeWorker(url, options);
    }
  };
})();
