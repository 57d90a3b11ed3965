import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog, ToolbarButton } from '@jupyterlab/apputils';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { Widget } from '@lumino/widgets';

import { IStripped, requestAPI, sendJSON } from './api';
import { exportIcon } from './icons';
import { ExportSidebar } from './sidebar';

const STRIP = 'cbs-export-lab:strip';
const OPEN = 'cbs-export-lab:open';

function isNotebook(path: string | undefined): path is string {
  return !!path && path.toLowerCase().endsWith('.ipynb');
}

/** The scan report as readable text: what was found where, and what to do. */
function reportBody(result: IStripped): Widget {
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
      li.textContent = `${f.severity === 'fail' ? 'Fails' : 'Review'}: ${f.message}${f.where ? ` Where: ${f.where}.` : ''}${f.fix ? ` Fix: ${f.fix}` : ''}`;
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
    const sidebar = new ExportSidebar();
    shell.add(sidebar, 'right', { rank: 900 });

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
      label: 'Strip data and add as syntax',
      caption: 'Add a copy of this notebook without outputs to the CBS export basket, after scanning it for data',
      icon: exportIcon,
      isEnabled: args => isNotebook(targetPath(args)),
      execute: async args => {
        const path = targetPath(args);
        if (!isNotebook(path)) {
          return;
        }
        try {
          const result = await requestAPI<IStripped>('strip', sendJSON('POST', { path }));
          await sidebar.refresh();
          await showDialog({
            title: result.ok ? 'Added to the basket as syntax' : 'The notebook still contains data',
            body: reportBody(result),
            buttons: [Dialog.okButton({ label: 'OK' })]
          });
        } catch (error) {
          await showDialog({
            title: 'Could not strip the notebook',
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
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 20
    });

    if (palette) {
      palette.addItem({ command: STRIP, category: 'CBS export' });
      palette.addItem({ command: OPEN, category: 'CBS export' });
    }

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: IDocumentWidget, context: DocumentRegistry.Context) => {
        const strip = new ToolbarButton({
          icon: exportIcon,
          label: 'Strip & add',
          tooltip: 'Save, then strip data and add as syntax (CBS export basket)',
          onClick: async () => {
            if (context.model.dirty) {
              await context.save();
            }
            await app.commands.execute(STRIP, { path: context.path });
          }
        });
        panel.toolbar.insertItem(10, 'cbsExportStrip', strip);
        return strip;
      }
    });
  }
};

export default plugin;
