package bench

import "context"

func apiBound(ctx context.Context, o *Options, dir string) ([]Result, error)      { return nil, nil }
func dtImport(ctx context.Context, o *Options, dir string) ([]Result, error)      { return nil, nil }
func rowVisibility(ctx context.Context, o *Options, dir string) ([]Result, error) { return nil, nil }
