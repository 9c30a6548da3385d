console.log("kwsgi static");
