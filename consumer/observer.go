package consumer

import "time"

// MultiObserver tells every non-nil observer in obs, in order.
func MultiObserver(obs ...Observer) Observer {
	var m multi
	for _, o := range obs {
		if o != nil {
			m = append(m, o)
		}
	}
	if len(m) == 1 {
		return m[0]
	}
	return m
}

type multi []Observer

func (m multi) Assigned(g int32, n int) {
	for _, o := range m {
		o.Assigned(g, n)
	}
}

func (m multi) Revoked(g int32) {
	for _, o := range m {
		o.Revoked(g)
	}
}

func (m multi) Fetched(t string, p int, lag int64) {
	for _, o := range m {
		o.Fetched(t, p, lag)
	}
}

func (m multi) BatchStarted(t string, p int) {
	for _, o := range m {
		o.BatchStarted(t, p)
	}
}

func (m multi) BatchDone(r BatchReport) {
	for _, o := range m {
		o.BatchDone(r)
	}
}

func (m multi) BatchRetry(t string, p int, stage string, err error) {
	for _, o := range m {
		o.BatchRetry(t, p, stage, err)
	}
}

func (m multi) BatchAbandoned(t string, p int) {
	for _, o := range m {
		o.BatchAbandoned(t, p)
	}
}

func (m multi) Committed(t string, p int, next int64, took time.Duration) {
	for _, o := range m {
		o.Committed(t, p, next, took)
	}
}

func (m multi) CommitFailed(err error) {
	for _, o := range m {
		o.CommitFailed(err)
	}
}
