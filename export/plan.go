package export

// planWorkers is the worker count snapshot.Plan shapes the ranges for: the export's own.
// A measurement build (tag measure) may replace it.
var planWorkers = func(parallel int) int { return parallel }
