// @ts-check
/** The widget's CSS, injected into the iframe document or the site widget's shadow root. */

export const PANEL_CSS = `
[hidden]{display:none!important}
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
.rx-msg[data-sender=system]{align-self:center;background:none;color:#555c63;font-size:12px}
.rx-msg[data-state=sending]{opacity:.6}
.rx-msg[data-state=failed]{background:#fa5252;cursor:pointer}
.rx-who{display:block;font-size:11px;color:#555c63}
.rx-note{display:block;font-size:11px}
.rx-typing{padding:0 14px 6px;font-size:12px;color:#555c63;min-height:16px}
.rx-form{display:flex;gap:6px;padding:10px;border-top:1px solid #e9ecef}
.rx-input{flex:1;resize:none;border:1px solid #ced4da;border-radius:8px;padding:7px;font:inherit}
.rx-send{border:0;border-radius:8px;background:#3b5bdb;color:#fff;padding:0 14px;font:inherit;cursor:pointer}
.rx-send:focus-visible,.rx-input:focus-visible{outline:2px solid #748ffc;outline-offset:1px}
.rx-queue{padding:6px 14px;background:#e7f5ff;color:#1c3d5a;font-size:13px}
.rx-rating{padding:8px 12px;border-top:1px solid #e9ecef;display:flex;flex-direction:column;gap:6px}
.rx-rating fieldset{border:0;margin:0;padding:0}
.rx-rating legend{font-weight:600;padding:0;margin-bottom:4px}
.rx-stars{display:flex;gap:4px}
.rx-stars label{cursor:pointer;font-size:24px;color:#adb5bd}
.rx-stars input{position:absolute;opacity:0;width:1px;height:1px}
.rx-stars label:has(input:checked),.rx-stars label:has(~ label input:checked){color:#f08c00}
.rx-stars label:has(input:focus-visible){outline:2px solid #748ffc}
.rx-rating textarea{border:1px solid #ced4da;border-radius:8px;padding:6px;font:inherit;resize:none}
.rx-rating button{align-self:flex-end;border:0;border-radius:8px;background:#3b5bdb;color:#fff;padding:6px 14px;font:inherit;cursor:pointer}
.rx-rating button:disabled{background:#adb5bd;cursor:default}
.rx-rating-note{margin:0;font-size:13px;color:#1f6f31}
.rx-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.rx-earlier{margin-left:8px;border:1px solid rgba(255,255,255,.6);border-radius:6px;background:none;color:#fff;font:12px system-ui,sans-serif;padding:2px 6px;cursor:pointer}
.rx-earlier[hidden],.rx-history[hidden],.rx-dialogs[hidden],.rx-transcript[hidden]{display:none}
.rx-history{flex:1;min-height:0;display:flex;flex-direction:column;background:#fff}
.rx-panel[data-view=history]>.rx-messages,.rx-panel[data-view=history]>.rx-typing,.rx-panel[data-view=history]>.rx-form,.rx-panel[data-view=history]>.rx-banner{display:none}
.rx-history-head{display:flex;gap:8px;align-items:center;padding:8px 12px;border-bottom:1px solid #e9ecef;font-weight:600}
.rx-back{border:1px solid #ced4da;border-radius:6px;background:#fff;font:inherit;font-weight:400;padding:2px 8px;cursor:pointer}
.rx-dialogs{list-style:none;margin:0;padding:0;overflow-y:auto}
.rx-dialog{display:block;width:100%;text-align:left;border:0;border-bottom:1px solid #f1f3f5;background:none;padding:10px 14px;font:inherit;cursor:pointer}
.rx-dialog:hover,.rx-dialog:focus-visible{background:#f8f9fa}
.rx-when{display:block;font-size:12px;color:#495057}
.rx-preview{display:block;color:#1c1c1e;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
`;

export const LAUNCHER_CSS = `
.rx-launcher{display:flex;align-items:center;justify-content:center;position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:#3b5bdb;color:#fff;font-size:24px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483646}
.rx-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#fa5252;color:#fff;font-size:12px;line-height:20px;text-align:center;padding:0 5px}
.rx-badge[hidden]{display:none}
.rx-window{position:fixed;right:20px;bottom:88px;width:360px;height:520px;max-height:calc(100vh - 110px);border:0;border-radius:12px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.25);background:#fff;z-index:2147483647}
.rx-window[hidden]{display:none}
@media (max-width:480px){.rx-window{right:8px;width:calc(100vw - 16px);bottom:84px;height:calc(100vh - 100px);max-height:none}}
`;
