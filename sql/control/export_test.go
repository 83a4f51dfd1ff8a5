package control

// InvokerViews exposes invokerViews to the external tests.
var InvokerViews = invokerViews
