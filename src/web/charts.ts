export async function drawCharts(_root: ParentNode): Promise<void> {}
