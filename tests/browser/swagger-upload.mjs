// Swagger UI browser test: a person's upload through /docs, in headless Chromium.
//
// Normally run by scripts/test-swagger-ui.sh, which starts a server and sets:
//   BASE_URL        e.g. http://127.0.0.1:PORT (a running datasets-api)
//   API_KEY         an admin bearer key of that server
//   CSV_FILE        a small CSV file to pick in the file input
//   SCREENSHOT      where to save the PNG of the page after Execute
//   CHROMIUM        the browser (default /usr/bin/chromium)
//   EXPECT_STATUS   the status the response section must show (default 201; a test of the test
//                   sets another value and must see this script fail)
//
// Steps: create a project through the API (fetch), open /docs, Authorize with the bearer key,
// close the dialog, expand "POST /api/datasets/upload", Try it out, fill project_id, name,
// description and the file, Execute, wait for the response section, assert its status and that
// its body names the new dataset. Prints `DATASET_ID=<uuid>` and `DATASET_NAME=<name>` on success
// so the caller can check the dataset independently. Exits non-zero with a message on failure.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { harness, launchChromium, TestFailure } from './harness.mjs';

const STEP_TIMEOUT_MS = 20_000;
const TOTAL_TIMEOUT_MS = 120_000;
const { need, fail, log, currentStep, done } = harness('swagger-upload', TOTAL_TIMEOUT_MS);
const BASE_URL = need('BASE_URL');
const API_KEY = need('API_KEY');
const CSV_FILE = need('CSV_FILE');
const SCREENSHOT = need('SCREENSHOT');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const EXPECT_STATUS = process.env.EXPECT_STATUS || '201';
const DATASET_NAME = `Swagger UI upload ${Date.now()}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function api(method, path, body) {
  const res = await fetch(BASE_URL + path, {
    method,
    headers: {
      Authorization: `Bearer ${API_KEY}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, text };
}

let browser;
let page;
const pageErrors = [];
try {
  log('creating a project through the API');
  const created = await api('POST', '/api/projects', { name: `Swagger UI test ${Date.now()}` });
  if (created.status !== 201) fail(`POST /api/projects answered ${created.status}: ${created.text}`);
  const projectId = JSON.parse(created.text).id;
  if (!UUID.test(projectId ?? '')) fail(`POST /api/projects gave no project id: ${created.text}`);
  console.log(`swagger-upload: project ${projectId}`);

  log(`launching ${CHROMIUM} (headless)`);
  browser = await launchChromium(CHROMIUM, STEP_TIMEOUT_MS);
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  log('opening /docs');
  const nav = await page.goto(`${BASE_URL}/docs`, { waitUntil: 'load' });
  if (!nav || nav.status() !== 200) fail(`/docs answered ${nav ? nav.status() : 'nothing'}`);
  await page.locator('.swagger-ui .information-container').waitFor();

  log('Authorize: entering the bearer key');
  await page.locator('.auth-wrapper button.authorize').click();
  const dialog = page.locator('.dialog-ux .modal-ux');
  await dialog.waitFor();
  const bearer = dialog.locator('.auth-container').filter({ hasText: 'BearerAuth' });
  if ((await bearer.count()) !== 1) fail('the Authorize dialog has no BearerAuth section');
  await bearer.locator('input#auth-bearer-value').fill(API_KEY);
  await bearer.locator('button.authorize', { hasText: 'Authorize' }).click();
  // Once authorized, Swagger UI shows "Authorized" and a Logout button in that section
  // (its accessible name is "Remove authorization", so it is found by its text).
  await bearer.locator('button', { hasText: 'Logout' }).waitFor();
  await bearer.getByText('Authorized', { exact: true }).waitFor();
  await dialog.locator('button.btn-done').click();
  await dialog.waitFor({ state: 'detached' });
  const lock = page.locator('.auth-wrapper button.authorize');
  const lockClasses = ((await lock.getAttribute('class')) || '').split(/\s+/);
  if (!lockClasses.includes('locked')) fail(`the Authorize button does not show a closed lock (class: ${lockClasses.join(' ')})`);

  log('expanding POST /api/datasets/upload');
  const op = page.locator('#operations-Datasets-upload_dataset');
  await op.waitFor();
  await op.locator('.opblock-summary').first().click();
  await op.locator('.opblock-body').waitFor();
  // The operation must show that it needs the bearer key, and its lock must be closed now.
  const opLock = op.locator('.authorization__btn');
  if ((await opLock.count()) < 1) fail('the upload operation shows no authorization lock');
  const opLockLabel = (await opLock.first().getAttribute('aria-label')) || '';
  if (opLockLabel !== 'authorization button locked') fail(`the upload operation's lock is not closed (${opLockLabel})`);

  log('Try it out');
  await op.locator('button.try-out__btn').click();
  const bodySection = op.locator('.opblock-section-request-body');
  await bodySection.waitFor();
  const contentType = await bodySection.locator('select').first().inputValue().catch(() => '');
  if (contentType && contentType !== 'multipart/form-data') {
    fail(`the request body's media type is ${contentType}, not multipart/form-data`);
  }

  log('filling the form: project_id, name, description, file');
  const field = (name) => bodySection.locator(`tr[data-property-name="${name}"]`);
  for (const name of ['project_id', 'name', 'description', 'file']) {
    if ((await field(name).count()) !== 1) fail(`the upload form has no field "${name}"`);
  }
  await field('project_id').locator('input[type=text]').fill(projectId);
  await field('name').locator('input[type=text]').fill(DATASET_NAME);
  await field('description').locator('input[type=text]').fill('Uploaded by the Swagger UI browser test');
  await field('file').locator('input[type=file]').setInputFiles(CSV_FILE);

  log('Execute');
  await op.locator('button.execute').click();
  const live = op.locator('.responses-wrapper .live-responses-table');
  const statusCell = live.locator('tbody .response-col_status').first();
  await statusCell.waitFor();
  const status = (await statusCell.innerText()).trim();
  const bodyText = (await live.locator('tbody .response-col_description .highlight-code pre').first().innerText()).trim();
  const requestUrl = (await op.locator('.request-url pre').first().innerText().catch(() => '')).trim();
  console.log(`swagger-upload: Request URL ${requestUrl}`);
  console.log(`swagger-upload: response ${status}: ${bodyText.replace(/\s+/g, ' ')}`);

  log(`saving the screenshot to ${SCREENSHOT}`);
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  // The operation from its summary line down to the live response (the filled form, the
  // request and its answer); not the documented responses below it, nor the rest of the page.
  await page.evaluate(() => window.scrollTo(0, 0));
  const opBox = await op.boundingBox();
  const liveBox = await live.boundingBox();
  if (!opBox || !liveBox) fail('the operation or its response section is not visible');
  await page.screenshot({
    path: SCREENSHOT,
    fullPage: true,
    clip: { x: opBox.x, y: opBox.y, width: opBox.width, height: liveBox.y + liveBox.height - opBox.y + 10 },
  });

  log('checking the response');
  if (status !== EXPECT_STATUS) fail(`the response section shows status ${status}, expected ${EXPECT_STATUS}; body: ${bodyText}`);
  let body;
  try {
    body = JSON.parse(bodyText);
  } catch {
    fail(`the response body is not JSON: ${bodyText}`);
  }
  const datasetId = body.dataset_id;
  if (!UUID.test(datasetId ?? '')) fail(`the response body has no dataset_id: ${bodyText}`);
  if (!bodyText.includes(datasetId)) fail('the dataset id is not in the shown body');
  if (!UUID.test(body.dataset_version_id ?? '')) fail(`the response body has no dataset_version_id: ${bodyText}`);
  if (typeof body.quality?.overall_score !== 'number') fail(`the response body has no quality.overall_score: ${bodyText}`);
  if (pageErrors.length) fail(`the page threw: ${pageErrors.join(' | ')}`);

  console.log(`DATASET_ID=${datasetId}`);
  console.log(`DATASET_NAME=${DATASET_NAME}`);
  console.log('swagger-upload: PASS');
} catch (e) {
  if (page) {
    const failShot = SCREENSHOT.replace(/\.png$/, '') + '-failure.png';
    try {
      mkdirSync(dirname(failShot), { recursive: true });
      await page.screenshot({ path: failShot, fullPage: true, timeout: 5000 });
      console.error(`swagger-upload: the page at the failure: ${failShot}`);
    } catch {}
  }
  const why = e instanceof TestFailure ? e.message : `${currentStep()}: ${e && e.message ? e.message.split('\n')[0] : e}`;
  console.error(`swagger-upload: FAIL: ${why}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  done();
}
