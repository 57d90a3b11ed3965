import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog, ToolbarButton } from '@jupyterlab/apputils';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { Widget } from '@lumino/widgets';

import { call, ICheckedFile, IStripped } from './api';
import { CHECKABLE, CheckFileForm } from './checkfile';
import { exportIcon } from './icons';
import { ExportSidebar } from './sidebar';

const STRIP = 'cbs-export-lab:strip';
const OPEN = 'cbs-export-lab:open';
const CHECK_FILE = 'cbs-export-lab:check-file';

function isCheckable(path: string | undefined): path is string {
  const name = (path ?? '').toLowerCase();
  return CHECKABLE.some(suffix => name.endsWith(suffix));
}

/** What "Scan and add as syntax" takes (notebooks and scripts), as the server says; asked once at start. */
let scannable: string[] = [];

function isScannable(path: string | undefined): path is string {
  const name = (path ?? '').toLowerCase();
  return scannable.some(suffix => name.endsWith(suffix));
}

/** The scan report as readable text: what was found where, and what to do. */
function reportBody(result: IStripped | ICheckedFile): Widget {
  const body = document.createElement('div');
  body.className = 'jp-CbsExport-report';
  const intro = document.createElement('p');
  intro.textContent = result.summary;
  body.append(intro);
  if (result.item.findings.length > 0) {
    const list = document.createElement('ul');
    for (const f of result.item.findings) {
      const li = document.createElement('li');
      li.className = `jp-mod-${f.severity}`;
      li.textContent = `${f.label}: ${f.message}${f.where ? ` Where: ${f.where}.` : ''}${f.fix ? ` Fix: ${f.fix}` : ''}`;
      list.append(li);
    }
    body.append(list);
  }
  return new Widget({ node: body });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'cbs-export-lab:plugin',
  description: 'CBS export sidebar: the basket, the output-light budget, the export plan and "Prepare export".',
  autoStart: true,
  requires: [ILabShell],
  optional: [ICommandPalette, IFileBrowserFactory],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    palette: ICommandPalette | null,
    browsers: IFileBrowserFactory | null
  ) => {
    call('/strip', 'get')
      .then(answer => {
        scannable = answer.suffixes;
      })
      .catch(() => {
        // without the server extension there is nothing to scan with: the menu item stays hidden
      });
    const sidebar = new ExportSidebar();
    shell.add(sidebar, 'right', { rank: 900 });

    /** Save the open document of `path` when it has unsaved changes, so the scan sees what is on screen. */
    const saveIfDirty = async (path: string): Promise<boolean> => {
      for (const widget of shell.widgets('main')) {
        const context = 'context' in widget ? (widget as IDocumentWidget).context : undefined;
        if (context && context.path === path && context.model.dirty) {
          await context.save();
          return true;
        }
      }
      return false;
    };

    const targetPath = (args: Record<string, unknown>): string | undefined => {
      if (typeof args.path === 'string') {
        return args.path;
      }
      const current = shell.currentWidget as IDocumentWidget | null;
      if (args.fromBrowser && browsers?.tracker.currentWidget) {
        const selected = Array.from(browsers.tracker.currentWidget.selectedItems());
        return selected.length ? selected[0].path : undefined;
      }
      return current && 'context' in current ? current.context.path : undefined;
    };

    app.commands.addCommand(STRIP, {
      label: 'Scan and add as syntax',
      caption:
        'Scan this notebook or script (R, Stata, SPSS, Python, SAS) for data and add it to the CBS export basket ' +
        'as syntax; a notebook goes without its outputs',
      icon: exportIcon,
      isEnabled: args => isScannable(targetPath(args)),
      isVisible: args => isScannable(targetPath(args)),
      execute: async args => {
        const path = targetPath(args);
        if (!isScannable(path)) {
          return;
        }
        try {
          const savedFirst = (await saveIfDirty(path)) || args.savedFirst === true;
          const result = await call('/strip', 'post', { body: { path, saved_first: savedFirst } });
          await sidebar.refresh();
          await showDialog({
            title: result.title,
            body: reportBody(result),
            buttons: [Dialog.okButton({ label: 'OK' })]
          });
        } catch (error) {
          await showDialog({
            title: 'Could not scan the file',
            body: (error as Error).message,
            buttons: [Dialog.okButton({ label: 'OK' })]
          });
        }
      }
    });

    app.commands.addCommand(CHECK_FILE, {
      label: 'Check and add to export',
      caption:
        'Check this table file as a plain table (optionally against its source data file) or add this figure ' +
        'file for review, in the CBS export basket',
      icon: exportIcon,
      isEnabled: args => isCheckable(targetPath(args)),
      isVisible: args => isCheckable(targetPath(args)),
      execute: async args => {
        const path = targetPath(args);
        if (!isCheckable(path)) {
          return;
        }
        const form = await showDialog({
          title: 'Check and add to export',
          body: new CheckFileForm(path),
          focusNodeSelector: 'input[name=title]',
          buttons: [Dialog.cancelButton({ label: 'Cancel' }), Dialog.okButton({ label: 'Check and add' })]
        });
        if (!form.button.accept || !form.value) {
          return;
        }
        const { title, source } = form.value;
        try {
          const result = await call('/file', 'post', { body: { path, source, title: title || null } });
          await sidebar.refresh();
          await showDialog({
            title: result.title,
            body: reportBody(result),
            buttons: [Dialog.okButton({ label: 'OK' })]
          });
        } catch (error) {
          await showDialog({
            title: 'Could not check the file',
            body: (error as Error).message,
            buttons: [Dialog.okButton({ label: 'OK' })]
          });
        }
      }
    });

    app.commands.addCommand(OPEN, {
      label: 'Show the CBS export basket',
      icon: exportIcon,
      execute: () => shell.activateById(sidebar.id)
    });

    app.contextMenu.addItem({
      command: STRIP,
      args: { fromBrowser: true },
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 20
    });
    app.contextMenu.addItem({
      command: CHECK_FILE,
      args: { fromBrowser: true },
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 21
    });

    if (palette) {
      palette.addItem({ command: STRIP, category: 'CBS export' });
      palette.addItem({ command: OPEN, category: 'CBS export' });
      palette.addItem({ command: CHECK_FILE, category: 'CBS export' });
    }

    const saveAndScan = async (context: DocumentRegistry.Context): Promise<void> => {
      const savedFirst = context.model.dirty;
      if (savedFirst) {
        await context.save();
      }
      await app.commands.execute(STRIP, { path: context.path, savedFirst });
    };

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: IDocumentWidget, context: DocumentRegistry.Context) => {
        const strip = new ToolbarButton({
          icon: exportIcon,
          label: 'Strip & add',
          tooltip: 'Save, then strip data and add as syntax (CBS export basket)',
          onClick: () => void saveAndScan(context)
        });
        panel.toolbar.insertItem(10, 'cbsExportStrip', strip);
        return strip;
      }
    });
  }
};

export default plugin;
