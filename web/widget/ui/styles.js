// @ts-check
/** The widget's CSS, injected into the iframe document or the site widget's shadow root. */

export const PANEL_CSS = `
.rx-panel{display:flex;flex-direction:column;height:100%;font:14px/1.4 system-ui,sans-serif;color:#1c1c1e;background:#fff}
.rx-head{display:flex;justify-content:space-between;align-items:center;padding:10px 14px;background:#3b5bdb;color:#fff}
.rx-title{font-weight:600}
.rx-state{font-size:12px;opacity:.9}
.rx-state[data-state=live]::before{content:"● ";color:#8ce99a}
.rx-banner{padding:8px 14px;background:#fff3bf;color:#5c3c00;font-size:13px}
.rx-banner[data-kind=error]{background:#ffe3e3;color:#7d0000}
.rx-messages{flex:1;overflow-y:auto;margin:0;padding:12px;list-style:none;display:flex;flex-direction:column;gap:6px}
.rx-msg{max-width:80%;padding:7px 11px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word}
.rx-msg[data-sender=visitor]{align-self:flex-end;background:#3b5bdb;color:#fff}
.rx-msg[data-sender=assistant],.rx-msg[data-sender=operator]{align-self:flex-start;background:#f1f3f5}
.rx-msg[data-sender=system]{align-self:center;background:none;color:#868e96;font-size:12px}
.rx-msg[data-state=sending]{opacity:.6}
.rx-msg[data-state=failed]{background:#fa5252;cursor:pointer}
.rx-who{display:block;font-size:11px;color:#868e96}
.rx-note{display:block;font-size:11px}
.rx-typing{padding:0 14px 6px;font-size:12px;color:#868e96;min-height:16px}
.rx-form{display:flex;gap:6px;padding:10px;border-top:1px solid #e9ecef}
.rx-input{flex:1;resize:none;border:1px solid #ced4da;border-radius:8px;padding:7px;font:inherit}
.rx-send{border:0;border-radius:8px;background:#3b5bdb;color:#fff;padding:0 14px;font:inherit;cursor:pointer}
.rx-send:focus-visible,.rx-input:focus-visible{outline:2px solid #748ffc;outline-offset:1px}
`;

export const LAUNCHER_CSS = `
.rx-launcher{display:flex;align-items:center;justify-content:center;position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:#3b5bdb;color:#fff;font-size:24px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483646}
.rx-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#fa5252;color:#fff;font-size:12px;line-height:20px;text-align:center;padding:0 5px}
.rx-badge[hidden]{display:none}
.rx-window{position:fixed;right:20px;bottom:88px;width:360px;height:520px;max-height:calc(100vh - 110px);border:0;border-radius:12px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.25);background:#fff;z-index:2147483647}
.rx-window[hidden]{display:none}
`;
