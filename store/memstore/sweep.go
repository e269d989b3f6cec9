package memstore

// slot is embedded by the entries of a sweepList: it remembers where the
// entry stands, for removal in O(1).
type slot struct{ pos int }

func (s *slot) position() *int { return &s.pos }

// sweepList holds entries once each, in no order, so that a sweep can walk
// them with a cursor that survives between calls; expired entries go a
// few at a time and the store never grows without bound.
type sweepList[T interface{ position() *int }] struct {
	all    []T
	cursor int
}

func (l *sweepList[T]) len() int { return len(l.all) }

func (l *sweepList[T]) add(e T) {
	*e.position() = len(l.all)
	l.all = append(l.all, e)
}

// remove takes e out by moving the last entry into its place.
func (l *sweepList[T]) remove(e T) {
	last := len(l.all) - 1
	moved, p := l.all[last], *e.position()
	l.all[p] = moved
	*moved.position() = p
	var zero T
	l.all[last] = zero
	l.all = l.all[:last]
}

// sweep examines up to n entries, continuing where the last sweep stopped,
// and calls drop for each one that is not alive; drop must remove it
// (from this list and from any index of the caller).
func (l *sweepList[T]) sweep(n int, alive func(T) bool, drop func(T)) {
	for range n {
		if len(l.all) == 0 {
			return
		}
		if l.cursor >= len(l.all) {
			l.cursor = 0
		}
		e := l.all[l.cursor]
		if alive(e) {
			l.cursor++
			continue
		}
		// remove moves the last entry into this place; look at it next.
		drop(e)
	}
}
