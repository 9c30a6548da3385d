console.log("webpack bundle");
