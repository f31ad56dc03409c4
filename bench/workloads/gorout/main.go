// W8: many goroutines, each alternating CPU work (long enough for the Go runtime to
// preempt it with SIGURG, so the tracer must handle signal-delivery stops) with
// opening, reading and closing files. Usage: gorout DIR GOROUTINES PER_GOROUTINE
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

func spin(n int) uint64 {
	// A tight loop without function calls: only async preemption (a signal) can stop it.
	var x uint64 = 1
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: gorout DIR GOROUTINES PER_GOROUTINE")
		os.Exit(2)
	}
	dir := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	per, _ := strconv.Atoi(os.Args[3])
	var wg sync.WaitGroup
	var sink uint64
	var mu sync.Mutex
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			b := make([]byte, 128)
			var acc uint64
			for i := 0; i < per; i++ {
				f, err := os.Open(fmt.Sprintf("%s/f%d", dir, (g+i)%16))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				f.Read(b)
				f.Close()
				acc += spin(20000)
			}
			mu.Lock()
			sink += acc
			mu.Unlock()
		}(g)
	}
	wg.Wait()
	if sink == 42 {
		fmt.Println("unlikely")
	}
}
