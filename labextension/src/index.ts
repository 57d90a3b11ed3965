import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
const plugin: JupyterFrontEndPlugin<void> = { id: 'cbs-export-lab:plugin', autoStart: true, activate: (app: JupyterFrontEnd) => { console.log('cbs'); } };
export default plugin;
