// The web UI (/ui) in headless Chromium, used as a person would, every figure checked against
// the JSON API.
//
// Normally run by scripts/test-ui.sh, which starts a server and sets:
//   BASE_URL       e.g. http://127.0.0.1:PORT (a running datasets-api)
//   API_KEY        an admin bearer key of that server
//   WORK           a scratch folder for the files uploaded
//   ARTIFACTS_DIR  where the screenshots (ui-*.png) and ui-timings.json go
//   CHROMIUM       the browser (default /usr/bin/chromium)
//
// Steps: sign in with the keyboard; upload a CSV through the Upload page (upload throttled so
// that the progress bar is seen between 0 and 100); open the dataset: the preview shows the
// uploaded values, the quality score is the API's, the CSV download equals the API's; the
// Columns page: every numeric column has a 10-bar histogram whose heights follow /analyze's
// counts, text columns have top-value bars; upload a second version through the UI; Compare:
// the verdict and every column's drift decision are the API's, a column's two histograms are
// overlaid; Rows: sort by a header click, text filter; Lineage: the graph's nodes; a dataset
// whose name, column names and cells are HTML runs nothing and injects nothing on any page;
// axe-core finds no serious or critical violation on any page; the dataset page of a
// 100-column dataset is timed (printed, not asserted); a refused key returns to sign-in.
// Throughout: no page error, no Content-Security-Policy violation, no dialog.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { harness, launchChromium, TestFailure } from './harness.mjs';

const STEP_TIMEOUT_MS = 30_000;
const TOTAL_TIMEOUT_MS = 420_000;
const { need, fail, check, log, currentStep, done } = harness('ui-test', TOTAL_TIMEOUT_MS);
const BASE_URL = need('BASE_URL');
const API_KEY = need('API_KEY');
const WORK = need('WORK');
const ARTIFACTS_DIR = need('ARTIFACTS_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const XSS = '<img src=x onerror=alert(1)>';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// ---- the API, from Node (to seed data and to know the expected figures) ----

async function api(method, path, body) {
  const res = await fetch(BASE_URL + path, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

async function apiText(path) {
  const res = await fetch(BASE_URL + path, { headers: { Authorization: `Bearer ${API_KEY}` }, signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  check(res.ok, `GET ${path} answered ${res.status}`);
  return res.text();
}

async function apiUpload(path, fields, fileName, content) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  form.set('file', new Blob([content]), fileName);
  const res = await fetch(BASE_URL + path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${API_KEY}` },
    body: form,
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.status !== 201) fail(`POST ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

// ---- data ----

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Transactions: amount (float), items (int), merchant (text), is_fraud (bool), day (date). */
function transactions(rows, seed, shift) {
  const next = random(seed);
  const merchants = shift ? ['ACME Corp', 'Luxury Ltd', 'Corner Shop', 'Night Market'] : ['ACME Corp', 'Luxury Ltd', 'Corner Shop'];
  const lines = ['amount,items,merchant,is_fraud,day'];
  for (let i = 0; i < rows; i += 1) {
    const amount = (Math.round((next() * 200 + (shift ? 120 : 20)) * 4) / 4).toFixed(2);
    const items = 1 + Math.floor(next() * (shift ? 12 : 6));
    const merchant = !shift && next() < 0.02 ? '' : merchants[Math.floor(next() * merchants.length)];
    const fraud = next() < (shift ? 0.2 : 0.05) ? 'true' : 'false';
    const day = `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`;
    lines.push(`${amount},${items},${merchant},${fraud},${day}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---- the browser ----

let browser;
let page;
const problems = [];

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS_DIR, `ui-${name}.png`), fullPage: true });
}

/**
 * Opens a UI route and waits for `ready` on the new page: the old page is cleared first, so
 * that nothing of it can satisfy the wait (the same route is rendered again).
 */
async function open(hash, ready) {
  await page.evaluate((h) => {
    document.getElementById('main').replaceChildren();
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, hash);
  await page.locator(ready).first().waitFor();
}

async function axe(name) {
  const loaded = await page.evaluate(() => typeof window.axe);
  if (loaded === 'undefined') await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.filter((v) => !bad.includes(v));
  if (minor.length) console.log(`ui-test: axe on ${name}: minor: ${minor.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
  check(bad.length === 0, `axe found serious or critical violations on the ${name} page: ${JSON.stringify(bad, null, 1)}`);
  console.log(`ui-test: axe on ${name}: no serious or critical violation`);
}

function assertClean(where) {
  check(problems.length === 0, `problems on the ${where} page: ${problems.join(' | ')}`);
}

try {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });

  log('checking the headers of /ui and the redirect of /');
  const index = await fetch(`${BASE_URL}/ui`, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  check(index.status === 200, `/ui answered ${index.status}`);
  const csp = index.headers.get('content-security-policy') ?? '';
  for (const part of ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "default-src 'none'"]) {
    check(csp.includes(part), `/ui's Content-Security-Policy lacks ${part}: ${csp}`);
  }
  check(!/unsafe-inline|unsafe-eval/.test(csp), `/ui's policy allows inline code or eval: ${csp}`);
  const root = await fetch(`${BASE_URL}/`, { redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  check(root.status >= 300 && root.status < 400 && root.headers.get('location') === '/ui/', `/ answered ${root.status} to ${root.headers.get('location')}`);
  const asset = /src="([^"]+main\.js)"/.exec(await index.text())?.[1];
  check(asset, '/ui names no main.js');
  const assetAnswer = await fetch(BASE_URL + asset, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  check(/immutable/.test(assetAnswer.headers.get('cache-control') ?? ''), `${asset} is not cached as immutable`);

  log('seeding: a project');
  const project = await api('POST', '/api/projects', { name: `UI test ${Date.now()}` });

  log(`launching ${CHROMIUM} (headless)`);
  browser = await launchChromium(CHROMIUM, STEP_TIMEOUT_MS);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('dialog', (d) => {
    problems.push(`a dialog opened (script ran): ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });

  log('signing in with the keyboard only');
  await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
  check(new URL(page.url()).pathname === '/ui/', `/ did not lead to /ui/ but to ${page.url()}`);
  await page.locator('#api-key').waitFor();
  await axe('sign-in');
  await shot('sign-in');
  check(await page.evaluate(() => document.activeElement?.id === 'api-key'), 'the key field is not focused on the sign-in page');
  await page.keyboard.type(API_KEY);
  await page.keyboard.press('Enter');
  await page.locator('h1', { hasText: 'Datasets' }).waitFor();
  check((await page.evaluate(() => sessionStorage.getItem('datasets-api-key'))) === API_KEY, 'the key is not in sessionStorage');
  check((await page.evaluate(() => localStorage.length)) === 0, 'something was written to localStorage');
  await page.locator('.empty, table.datasets').first().waitFor();
  assertClean('datasets');

  log('uploading a CSV through the Upload page, upload throttled to see the progress bar');
  const v1 = transactions(60_000, 7, false);
  const v1Path = join(WORK, 'transactions.csv');
  writeFileSync(v1Path, v1);
  await open(`#/upload?project=${project.id}`, '#file');
  await axe('upload');
  await page.locator('#name').fill('Card transactions');
  await page.locator('#description').fill('Uploaded through the UI test');
  await page.locator('#file').setInputFiles(v1Path);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 600_000 });
  await page.evaluate(() => {
    window.__progressSeen = [];
    const timer = setInterval(() => {
      const bar = document.getElementById('upload-progress');
      if (bar && !bar.closest('[hidden]')) window.__progressSeen.push(bar.value);
      if (document.querySelector('#upload-answer > *')) clearInterval(timer);
    }, 20);
  });
  await page.locator('button[type=submit]', { hasText: 'Upload the dataset' }).click();
  await page.locator('#upload-answer .notice-success, #upload-answer .notice-error').first().waitFor({ timeout: 90_000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const answerText = await page.locator('#upload-answer').innerText();
  check(answerText.includes('Stored as a new dataset'), `the upload's answer is not a success: ${answerText}`);
  const seen = await page.evaluate(() => window.__progressSeen);
  const between = seen.filter((v) => v > 0 && v < 100);
  check(between.length > 0, `the progress bar never showed a value between 0 and 100 (seen: ${[...new Set(seen)].join(',')})`);
  check(seen.includes(100), 'the progress bar never reached 100');
  console.log(`ui-test: progress values seen: ${[...new Set(seen)].join(', ')}`);
  await shot('upload');
  assertClean('upload');

  log('opening the dataset from the answer');
  await page.locator('#upload-answer a', { hasText: 'Open the dataset' }).click();
  await page.locator('table.preview').waitFor();
  const datasetId = decodeURIComponent(/#\/datasets\/([^/?]+)/.exec(page.url())[1]);
  const detail = await api('GET', `/api/datasets/${datasetId}`);
  const csvLines = v1.trim().split('\n').slice(1, 21).map((l) => l.split(','));
  const previewCells = await page.locator('table.preview tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  check(previewCells.length === 20, `the preview shows ${previewCells.length} rows, not 20`);
  previewCells.forEach((cells, i) => {
    const [amount, items, merchant, fraud] = csvLines[i];
    check(Number(cells[0]) === Number(amount), `preview row ${i + 1}: amount ${cells[0]}, the file has ${amount}`);
    check(Number(cells[1]) === Number(items), `preview row ${i + 1}: items ${cells[1]}, the file has ${items}`);
    check(cells[2] === merchant, `preview row ${i + 1}: merchant ${cells[2]}, the file has ${merchant}`);
    check(cells[3] === fraud, `preview row ${i + 1}: is_fraud ${cells[3]}, the file has ${fraud}`);
  });
  const quality = await api('GET', `/api/datasets/${datasetId}/quality`);
  const shownScore = Number(await page.locator('.score-big').innerText());
  check(Math.abs(shownScore - quality.quality.overall_score) < 0.01, `the page shows score ${shownScore}, the API ${quality.quality.overall_score}`);
  check((await page.locator('.checks li').count()) === quality.quality.checks.length, 'the page does not list every quality check');
  const headerTypes = await page.locator('table.preview thead .badge').allInnerTexts();
  const columnsAnswer = await api('GET', `/api/datasets/${datasetId}/columns`);
  check(JSON.stringify(headerTypes) === JSON.stringify(columnsAnswer.columns.map((c) => c.dtype)), `dtype badges ${headerTypes} differ from the API's`);
  check(detail.dataset.rows === 60_000, `the dataset has ${detail.dataset.rows} rows`);
  log('downloading the CSV through its button');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('button[data-format=csv]').click()]);
  const downloaded = readFileSync(await download.path(), 'utf8');
  check(downloaded === (await apiText(`/api/datasets/${datasetId}/download?format=csv`)), 'the downloaded CSV differs from the API download');
  await axe('dataset');
  await shot('dataset');
  assertClean('dataset');

  log('the Columns page: histograms against /analyze');
  await open(`#/datasets/${datasetId}/columns`, '.column-card');
  const analysis = await api('GET', `/api/datasets/${datasetId}/analyze`);
  let histograms = 0;
  for (const [name, stats] of Object.entries(analysis.statistics.columns)) {
    const card = page.locator(`article.column-card[data-column="${name}"]`);
    if (stats.histogram && stats.histogram.counts.length) {
      histograms += 1;
      check(stats.histogram.counts.length === 10, `/analyze gives ${name} ${stats.histogram.counts.length} bins`);
      const bars = await card.locator('svg.histogram rect.bar').evaluateAll((rects) => rects.map((r) => ({ h: Number(r.getAttribute('height')), n: Number(r.dataset.count) })));
      check(bars.length === 10, `${name} has ${bars.length} bars, not 10`);
      const maxCount = Math.max(...stats.histogram.counts);
      const maxHeight = Math.max(...bars.map((b) => b.h));
      bars.forEach((bar, i) => {
        check(bar.n === stats.histogram.counts[i], `${name} bar ${i} is labelled ${bar.n}, /analyze counts ${stats.histogram.counts[i]}`);
        const expected = stats.histogram.counts[i] / maxCount;
        check(Math.abs(bar.h / maxHeight - expected) < 0.01, `${name} bar ${i} is ${bar.h} high: ${bar.h / maxHeight} of the tallest, /analyze says ${expected}`);
      });
    } else {
      check((await card.locator('svg.top-values rect.bar').count()) > 0, `${name} (${stats.type}) has no top-value bars`);
    }
  }
  check(histograms >= 3, `only ${histograms} columns have histograms (amount, items, day expected)`);
  const merchantStats = analysis.statistics.columns.merchant;
  check(merchantStats.missing > 0, 'the generated file has no missing merchant');
  const missingCell = await page.locator('article.column-card[data-column="merchant"] table.stats tr', { hasText: 'Missing' }).locator('td').innerText();
  const expectedMissing = `${merchantStats.missing.toLocaleString('en-US')} (${(merchantStats.missing_percent * 100).toFixed(2)}%)`;
  check(missingCell === expectedMissing, `merchant's missing cell says "${missingCell}", the API ${expectedMissing}`);
  await page.locator('article.column-card[data-column="amount"] details.chart-table summary').click();
  check(await page.locator('article.column-card[data-column="amount"] details.chart-table table').isVisible(), 'the table toggle does not show the table');
  await axe('columns');
  await shot('columns');
  assertClean('columns');

  log('uploading a second, drifted version through the UI');
  const v2Path = join(WORK, 'transactions_v2.csv');
  writeFileSync(v2Path, transactions(40_000, 11, true));
  await open(`#/datasets/${datasetId}/upload`, '#file');
  await page.locator('#description').fill('A month later: more merchants, larger amounts');
  await page.locator('#file').setInputFiles(v2Path);
  await page.locator('button[type=submit]', { hasText: 'Upload the version' }).click();
  await page.locator('#upload-answer .notice-success, #upload-answer .notice-error').first().waitFor({ timeout: 90_000 });
  const answer2 = await page.locator('#upload-answer').innerText();
  check(answer2.includes('Stored as version 1'), `the second upload's answer: ${answer2}`);
  assertClean('new version');

  log('a version that breaks an enforced contract: refused, with its violations listed');
  await fetch(`${BASE_URL}/api/datasets/${datasetId}/contract`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ mode: 'enforce', columns: { amount: { max: 100 } } }),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  }).then((r) => check(r.status === 200, `PUT contract answered ${r.status}`));
  await open(`#/datasets/${datasetId}/upload`, '#file');
  await page.locator('#description').fill('Amounts over the contract');
  await page.locator('#file').setInputFiles(v2Path);
  await page.locator('button[type=submit]', { hasText: 'Upload the version' }).click();
  await page.locator('#upload-answer .notice-error').waitFor({ timeout: 90_000 });
  const refusal = await page.locator('#upload-answer').innerText();
  check(/Not stored/.test(refusal) && /amount — \w+: [\d,]+ failing/.test(refusal), `the refusal does not list the violation: ${refusal}`);
  await api('DELETE', `/api/datasets/${datasetId}/contract`);
  assertClean('contract refusal');

  log('Compare: the verdict and each column against /compare');
  await open(`#/datasets/${datasetId}/compare`, 'table.drift');
  const compared = await api('GET', `/api/datasets/${datasetId}/compare?v1=0&v2=1`);
  const verdict = await page.locator('#h-verdict').innerText();
  check(verdict === (compared.summary.dataset_drift ? 'Dataset drift detected' : 'No dataset drift'), `verdict "${verdict}", the API says dataset_drift=${compared.summary.dataset_drift}`);
  const driftRows = await page.locator('table.drift tbody tr').evaluateAll((rows) => rows.map((r) => ({ column: r.dataset.column, badge: r.querySelector('.badge.drifted, .badge.stable')?.textContent })));
  check(driftRows.length === Object.keys(compared.column_diffs).length, `${driftRows.length} rows in the drift table, ${Object.keys(compared.column_diffs).length} columns compared`);
  for (const row of driftRows) {
    const drift = compared.column_diffs[row.column].drift;
    const expected = drift ? (drift.drift_detected ? 'drifted' : 'no drift') : undefined;
    check(row.badge === expected, `${row.column}: the table says ${row.badge}, the API ${expected}`);
  }
  await page.locator('table.drift button', { hasText: 'amount' }).click();
  await page.locator('#column-detail svg.overlay').waitFor();
  check((await page.locator('#column-detail svg.overlay rect.series-0').count()) > 0 && (await page.locator('#column-detail svg.overlay rect.series-1').count()) > 0, 'the overlay lacks one version');
  await page.locator('#all-tests').check();
  await page.locator('button[type=submit]', { hasText: 'Compare' }).click();
  await page.locator('table.drift thead th', { hasText: 'jensenshannon' }).waitFor();
  const everyTest = await api('GET', `/api/datasets/${datasetId}/compare?v1=0&v2=1&tests=ks,chi2,ztest,psi,jensenshannon,wasserstein`);
  const ksShown = await page.locator('table.drift tbody tr[data-column="amount"] td').nth(8).innerText();
  const ksExpected = everyTest.column_diffs.amount.tests.ks;
  check(ksShown.startsWith(String(Number(ksExpected.statistic.toPrecision(4)))), `amount's KS cell shows "${ksShown}", the API's statistic is ${ksExpected.statistic}`);
  await axe('compare');
  await shot('compare');
  assertClean('compare');

  log('Rows: sorting by a header click, filtering');
  await open(`#/datasets/${datasetId}/rows`, 'table.rows');
  await page.locator('table.rows thead a.sort', { hasText: 'amount' }).click();
  await page.waitForFunction(() => location.hash.includes('sort=amount'));
  await page.locator('table.rows th[aria-sort="ascending"]').waitFor();
  const firstAmount = Number(await page.locator('table.rows tbody tr:first-child td:nth-child(2)').innerText());
  const sortedByApi = await api('GET', `/api/datasets/${datasetId}/rows?limit=1&order_by=amount%20ASC`);
  check(firstAmount === sortedByApi.rows[0].amount, `the first sorted amount is ${firstAmount}, the API's ${sortedByApi.rows[0].amount}`);
  await page.locator('#rows-q').fill('Night Market');
  await page.locator('#rows-q').press('Enter');
  await page.waitForFunction(() => location.hash.includes('q=Night'));
  const filtered = await api('GET', `/api/datasets/${datasetId}/rows?limit=1&q=Night%20Market`);
  const expectedPager = `of ${filtered.total.toLocaleString('en-US')} rows`;
  await page.waitForFunction((end) => document.querySelector('nav.pager span')?.textContent.endsWith(end), expectedPager);
  await axe('rows');
  await shot('rows');
  assertClean('rows');

  log('Lineage: an experiment, a model and a deployment');
  const experiment = await api('POST', '/api/experiments', { project_id: project.id, name: 'fraud-baseline', dataset_id: datasetId });
  const model = await api('POST', '/api/models', { experiment_id: experiment.id, name: 'fraud-gbm', algorithm: 'gradient_boosting' });
  await api('POST', '/api/deployments', { name: 'fraud-scorer', model_id: model.id, stage: 'production', is_active: true });
  await open(`#/datasets/${datasetId}/lineage`, 'svg.lineage');
  check((await page.locator('svg.lineage g.node').count()) === 4, 'the lineage graph does not have 4 nodes');
  check((await page.locator('svg.lineage path.edge').count()) === 3, 'the lineage graph does not have 3 edges');
  const listed = await page.locator('.lineage-list').innerText();
  for (const name of ['fraud-baseline', 'fraud-gbm', 'fraud-scorer']) check(listed.includes(name), `the lineage list lacks ${name}`);
  await axe('lineage');
  await shot('lineage');
  assertClean('lineage');

  log('hostile text: a dataset whose name, column names and cells are HTML');
  const hostileCsv = `"${XSS}","<script>alert(2)</script>",n\n"<img src=x onerror=alert(3)>","\\"><svg onload=alert(4)>",1\n"<b>bold</b>","<iframe src=javascript:alert(5)>",2\n`;
  const hostile = await apiUpload('/api/datasets/upload', { project_id: project.id, name: XSS, description: '<script>alert(6)</script>' }, 'x.csv', hostileCsv);
  await apiUpload(`/api/datasets/${hostile.dataset_id}/versions`, { description: '<b>changed</b>' }, 'x2.csv', hostileCsv.replace(',1\n', ',7\n'));
  await api('POST', '/api/experiments', { project_id: project.id, name: '<img src=x onerror=alert(7)>', dataset_id: hostile.dataset_id });
  const injected = () =>
    page.evaluate(() => ({
      images: document.querySelectorAll('img, iframe, object, embed').length,
      scripts: [...document.scripts].filter((s) => !s.src.includes('/ui/assets/')).length,
      svgInjected: [...document.querySelectorAll('svg')].filter((s) => !s.classList.contains('chart')).length,
      handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
      bold: document.querySelectorAll('main b').length,
    }));
  const hostilePages = [
    [`#/?search=${encodeURIComponent('<img')}`, 'table.datasets'],
    [`#/datasets/${hostile.dataset_id}`, 'table.preview'],
    [`#/datasets/${hostile.dataset_id}/columns`, '.column-card'],
    [`#/datasets/${hostile.dataset_id}/rows`, 'table.rows'],
    [`#/datasets/${hostile.dataset_id}/compare`, '#column-detail figure, #column-detail .notice, #column-detail p'],
    [`#/datasets/${hostile.dataset_id}/lineage`, 'svg.lineage'],
  ];
  for (const [hash, ready] of hostilePages) {
    await open(hash, ready);
    const found = await injected();
    check(found.images === 0 && found.scripts === 0 && found.svgInjected === 0 && found.handlers === 0 && found.bold === 0, `markup from the data became elements on ${hash}: ${JSON.stringify(found)}`);
    assertClean(`hostile ${hash}`);
  }
  await open(`#/datasets/${hostile.dataset_id}`, 'table.preview');
  check((await page.locator('h1').innerText()) === XSS, 'the hostile name is not shown as text in the heading');
  const hostileHeaders = await page.locator('table.preview thead .col-name').allInnerTexts();
  check(hostileHeaders[0] === XSS && hostileHeaders[1] === '<script>alert(2)</script>', `column names not shown as text: ${hostileHeaders}`);
  check((await page.locator('table.preview tbody tr:first-child td:first-child').innerText()) === '<img src=x onerror=alert(3)>', 'a cell is not shown as text');
  await shot('hostile');

  log('timing the dataset page of a 100-column dataset');
  const wideHeader = Array.from({ length: 100 }, (_, i) => `c${i}`).join(',');
  const next = random(3);
  const wideRows = Array.from({ length: 2000 }, () => Array.from({ length: 100 }, (_, j) => (j % 4 === 3 ? `t${Math.floor(next() * 20)}` : (next() * 1000).toFixed(3))).join(','));
  const wide = await apiUpload('/api/datasets/upload', { project_id: project.id, name: 'Wide (100 columns)' }, 'wide.csv', `${wideHeader}\n${wideRows.join('\n')}\n`);
  const timings = [];
  for (let i = 0; i < 3; i += 1) {
    await open('#/', 'h1');
    await page.evaluate(() => performance.clearMeasures('dataset-render'));
    await open(`#/datasets/${wide.dataset_id}`, 'table.preview');
    const ms = await page.waitForFunction(() => performance.getEntriesByName('dataset-render', 'measure').at(-1)?.duration, null, { timeout: STEP_TIMEOUT_MS });
    timings.push(Math.round((await ms.jsonValue()) * 10) / 10);
  }
  check((await page.locator('table.preview thead th').count()) === 100, 'the wide preview does not have 100 columns');
  console.log(`ui-test: dataset page of 100 columns rendered in ${timings.join(', ')} ms after the API answered (goal < 500 ms)`);
  writeFileSync(join(ARTIFACTS_DIR, 'ui-timings.json'), `${JSON.stringify({ dataset_render_ms_100_columns: timings }, null, 1)}\n`);
  await axe('wide dataset');

  log('the datasets list: search, sort, paging controls');
  await open('#/?sort=name&dir=asc', 'table.datasets');
  const names = await page.locator('table.datasets tbody td:first-child a').allInnerTexts();
  const listedByApi = await api('GET', '/api/datasets?sort_field=name&sort_direction=asc&limit=25');
  check(JSON.stringify(names) === JSON.stringify(listedByApi.items.map((d) => d.name)), `the list ${names} is not the API's ${listedByApi.items.map((d) => d.name)}`);
  await axe('datasets');
  await shot('datasets');
  assertClean('datasets list');

  log('the skip link and the current page in the navigation');
  check((await page.locator('#site-nav a[aria-current="page"]').allInnerTexts()).join() === 'Datasets', 'the navigation does not mark Datasets as the current page');
  const before = page.url();
  await page.locator('.skip-link').focus();
  await page.keyboard.press('Enter');
  check(page.url() === before && (await page.evaluate(() => document.activeElement?.id === 'main')), 'the skip link changed the route or did not focus the content');
  check((await page.locator('table.datasets').count()) === 1, 'the skip link replaced the page');

  log('keyboard: from the list to a dataset with Tab and Enter');
  await open('#/?search=Card', 'table.datasets');
  let reached = false;
  for (let i = 0; i < 40 && !reached; i += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.textContent === 'Card transactions');
  }
  check(reached, 'Tab never reached the dataset link');
  await page.keyboard.press('Enter');
  await page.locator('table.preview').waitFor();
  check(page.url().includes(datasetId), 'Enter on the link did not open the dataset');

  log('a refused key returns to sign-in');
  await page.evaluate(() => sessionStorage.setItem('datasets-api-key', 'not-a-valid-key'));
  await open('#/', '#api-key');
  const message = await page.locator('.notice-error').innerText();
  check(/401/.test(message), `the sign-in page does not say why: ${message}`);
  await page.locator('#api-key').fill('still-not-a-valid-key');
  await page.locator('#api-key').press('Enter');
  await page.locator('.notice-error', { hasText: 'not accepted' }).waitFor();
  check((await page.evaluate(() => sessionStorage.getItem('datasets-api-key'))) === null, 'a refused key was kept');
  await page.locator('#api-key').fill(API_KEY);
  await page.locator('#api-key').press('Enter');
  await page.locator('h1', { hasText: 'Datasets' }).waitFor();
  assertClean('sign-in after 401');
  console.log('ui-test: PASS');
} catch (error) {
  console.error(`ui-test: FAIL during "${currentStep()}": ${error instanceof TestFailure ? error.message : error.stack ?? error}`);
  if (page) await page.screenshot({ path: join(ARTIFACTS_DIR, 'ui-failure.png'), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  done();
}
