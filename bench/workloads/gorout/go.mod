module tracehound/bench/gorout

go 1.19
