// The console's accessibility checks, run in the page by tests/e2e/test_demo.py (execute_script; no library).
// Returns {problems: [...], focusables: n}: unnamed fields, links and buttons; text under WCAG 2.x contrast
// (4.5:1, 3:1 for large text) against its effective background; not exactly one h1; no <html lang>. Marks every
// visible link, button (a <details>' summary too) and form field with data-a11y-order (DOM order) for the keyboard walk that follows.
const problems = [];

const visible = (el) => {
  // checkVisibility: not in a closed <details> (content-visibility), not display:none, not visibility:hidden
  if (!el.getClientRects().length || !el.checkVisibility({ visibilityProperty: true })) return false;
  const style = getComputedStyle(el);
  return style.visibility !== 'hidden' && style.display !== 'none';
};

const selector = (el) => {
  const parts = [];
  for (let node = el; node && node.nodeType === 1 && parts.length < 4; node = node.parentElement) {
    let part = node.tagName.toLowerCase();
    if (node.id) { parts.unshift(`${part}#${node.id}`); break; }
    if (node.classList.length) part += '.' + [...node.classList].join('.');
    parts.unshift(part);
  }
  return parts.join(' > ');
};

const textOf = (ids) => ids.split(/\s+/).map((id) => {
  const ref = document.getElementById(id);
  return ref ? ref.textContent : '';
}).join(' ').trim();

const fieldName = (el) => {
  if ((el.getAttribute('aria-label') || '').trim()) return true;
  if (el.getAttribute('aria-labelledby') && textOf(el.getAttribute('aria-labelledby'))) return true;
  return [...(el.labels || [])].some((label) => label.textContent.trim());
};

const controlName = (el) => {
  if ((el.getAttribute('aria-label') || '').trim()) return true;
  if (el.getAttribute('aria-labelledby') && textOf(el.getAttribute('aria-labelledby'))) return true;
  if (el.tagName === 'INPUT') return Boolean((el.value || '').trim() || fieldName(el));
  if (el.innerText.trim()) return true;
  return [...el.querySelectorAll('img[alt]')].some((img) => img.alt.trim());
};

const FIELDS = 'input:not([type=hidden]), select, textarea';
const CONTROLS = 'a[href], button, details > summary, input[type=submit], input[type=button], input[type=reset]';
const FOCUSABLE = `a[href], button, details > summary, ${FIELDS}`;

for (const el of document.querySelectorAll(FIELDS)) {
  if (visible(el) && !['submit', 'button', 'reset'].includes(el.type) && !fieldName(el)) {
    problems.push(`field without an accessible name: ${selector(el)}`);
  }
}
for (const el of document.querySelectorAll(CONTROLS)) {
  if (visible(el) && !controlName(el)) problems.push(`link or button without a name: ${selector(el)}`);
}

let order = 0;
for (const el of document.querySelectorAll(FOCUSABLE)) {
  el.removeAttribute('data-a11y-order');
  if (visible(el) && !el.disabled) el.setAttribute('data-a11y-order', String(order++));
}

const parse = (colour) => {
  const m = colour.match(/^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/);
  if (!m) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
};
const over = (top, bottom) => {  // top (with alpha) composited over an opaque bottom
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
};
const background = (el) => {
  const layers = [];
  for (let node = el; node; node = node.parentElement) {
    const bg = parse(getComputedStyle(node).backgroundColor);
    if (bg === null) return null;
    if (bg[3] > 0) layers.push(bg);
    if (bg[3] >= 1) break;
  }
  let colour = [255, 255, 255, 1];
  for (const layer of layers.reverse()) colour = over(layer, colour);
  return colour;
};
const luminance = (rgb) => {
  const [r, g, b] = rgb.slice(0, 3).map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const hex = (rgb) => '#' + rgb.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');

for (const el of document.body.querySelectorAll('*')) {
  const hasText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!hasText || !visible(el) || el.disabled || ['SCRIPT', 'STYLE', 'TITLE'].includes(el.tagName)) continue;
  const style = getComputedStyle(el);
  const bg = background(el);
  let fg = parse(style.color);
  if (bg === null || fg === null) {
    problems.push(`contrast unknown: ${selector(el)} (${style.color})`);
    continue;
  }
  fg = over(fg, bg);
  const [light, dark] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  const ratio = (light + 0.05) / (dark + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  const needed = large ? 3 : 4.5;
  if (ratio < needed) {
    problems.push(`contrast ${ratio.toFixed(2)}:1 < ${needed}:1: ${selector(el)} ${hex(fg)} on ${hex(bg)}`);
  }
}

const h1s = document.querySelectorAll('h1').length;
if (h1s !== 1) problems.push(`${h1s} h1 elements (one expected)`);
if (!(document.documentElement.getAttribute('lang') || '').trim()) problems.push('<html> has no lang');

return { problems, focusables: order };
