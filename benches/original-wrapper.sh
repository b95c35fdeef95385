#!/usr/bin/env bash
# The baseline for P1: what the 2018 module's per-target command did for one manual result
# (check three arguments, the state an integer 0..3, build JSON with jq, POST with curl).
# Its `eval` of a string-built curl command line is replaced by an array, so this measures the
# tools, not the defect. API_HOST and API_KEY come from the environment.
if [ "$#" -ne 3 ]; then
    echo "Illegal number of parameters"
    echo "Usage: $0 \"output string\" \"perfdata\" status"
    exit 1
fi
if [ "$3" -eq "$3" ] 2>/dev/null; then
    if [ "$3" -lt "0" ] || [ "$3" -gt "3" ]; then
        echo "ERROR: status must be either 0 OK, 1, WARNING , 2 ERROR or 3 UNKNOWN"
        exit 1
    fi
else
    echo "ERROR: first parameter must be an integer."
    exit 1
fi
json=$(echo "{}" | jq -c --arg output "$1" --arg perfdata "$2" --arg state "$3" \
  '{host: "mail.lastlog.de", name: "sometest", output: $output, perfdata: $perfdata, state: $state | tonumber }')
cmd=(curl -s -X POST --header "Authorization: ApiKey $API_KEY" --header "Content-Type: application/json" \
  --data "$json" "$API_HOST/api/services/results")
"${cmd[@]}"
