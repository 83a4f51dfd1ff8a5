package pgcopy

// HeaderSeeds exports headerSeeds to the pgcopy_test package, which can
// import internal/copytest (that imports pgcopy).
var HeaderSeeds = headerSeeds
